package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/neko-webrtc/neko/internal/capture/gst"
)

// Screenshot grabs one frame of display and encodes it as JPEG with
// GStreamer's jpegenc (libjpeg-turbo): several times faster than Go's
// image/jpeg at 1080p, which matters for GET /api/room/screen/shot.jpg.
// source, if set, replaces ximagesrc (tests).
func Screenshot(ctx context.Context, display string, quality int, source string) ([]byte, error) {
	if quality < 0 || quality > 100 {
		return nil, fmt.Errorf("capture: screenshot quality %d out of 0-100", quality)
	}
	if source == "" {
		source = fmt.Sprintf("ximagesrc display-name=%s num-buffers=1 use-damage=false show-pointer=false", display)
	}
	out := make(chan []byte, 1)
	p, err := gst.New(fmt.Sprintf("%s ! videoconvert ! jpegenc quality=%d ! appsink name=appsink sync=false", source, quality),
		"appsink", "", func(s gst.Sample) {
			select {
			case out <- s.Data:
			default:
			}
		})
	if err != nil {
		return nil, fmt.Errorf("capture: screenshot: %w", err)
	}
	defer p.Stop()
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("capture: screenshot: %w", err)
	}
	select {
	case img := <-out:
		return img, nil
	case err := <-p.Errors():
		if err == nil {
			err = errors.New("pipeline ended without a frame")
		}
		return nil, fmt.Errorf("capture: screenshot: %w", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("capture: screenshot: %w", ctx.Err())
	}
}
