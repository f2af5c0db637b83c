package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/neko-webrtc/neko/internal/capture/gst"
	"github.com/neko-webrtc/neko/internal/capture/ximage"
)

// Screenshot grabs one frame of display (on a connection of its own,
// without Xlib: see package ximage) and encodes it as JPEG.
func Screenshot(ctx context.Context, display string, quality int) ([]byte, error) {
	if quality < 0 || quality > 100 {
		return nil, fmt.Errorf("capture: screenshot quality %d out of 0-100", quality)
	}
	g, err := ximage.Open(display)
	if err != nil {
		return nil, fmt.Errorf("capture: screenshot: %w", err)
	}
	defer g.Close()
	pixels, err := g.Grab()
	if err != nil {
		return nil, fmt.Errorf("capture: screenshot: %w", err)
	}
	w, h := g.Size()
	return EncodeJPEG(ctx, pixels, w, h, quality)
}

// EncodeJPEG encodes BGRx pixels with GStreamer's jpegenc (libjpeg-turbo):
// several times faster than Go's image/jpeg at 1080p, which matters for
// GET /api/room/screen/shot.jpg.
func EncodeJPEG(ctx context.Context, pixels []byte, width, height, quality int) ([]byte, error) {
	if quality < 0 || quality > 100 {
		return nil, fmt.Errorf("capture: jpeg quality %d out of 0-100", quality)
	}
	if width <= 0 || height <= 0 || len(pixels) != width*height*4 {
		return nil, fmt.Errorf("capture: jpeg: %d bytes for %dx%d", len(pixels), width, height)
	}
	feed := Feed{Width: width, Height: height, FPS: 1}
	out := make(chan []byte, 1)
	p, err := gst.New(fmt.Sprintf("%s ! videoconvert ! jpegenc quality=%d ! appsink name=appsink sync=false", feed.Appsrc(), quality),
		"appsink", "src", func(s gst.Sample) {
			select {
			case out <- s.Data:
			default:
			}
		})
	if err != nil {
		return nil, fmt.Errorf("capture: jpeg: %w", err)
	}
	defer p.Stop()
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("capture: jpeg: %w", err)
	}
	frame, err := gst.NewFrame(len(pixels))
	if err != nil {
		return nil, fmt.Errorf("capture: jpeg: %w", err)
	}
	copy(frame.Data(), pixels)
	frame.Seal()
	err = p.PushFrame(frame, feed.interval())
	frame.Release()
	if err != nil {
		return nil, fmt.Errorf("capture: jpeg: %w", err)
	}
	select {
	case img := <-out:
		return img, nil
	case err := <-p.Errors():
		if err == nil {
			err = errors.New("pipeline ended without an image")
		}
		return nil, fmt.Errorf("capture: jpeg: %w", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("capture: jpeg: %w", ctx.Err())
	}
}
