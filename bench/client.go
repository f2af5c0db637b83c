package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/viewer"
)

// Where colours are sampled in the 64x36 decoded frame: away from the
// centre, where the server draws the pointer into the video.
const sampleX, sampleY = viewer.FrameW / 4, viewer.FrameH / 4

// join logs in a fresh session and opens its WebSocket.
func join(ctx context.Context, url, name, password string) (*viewer.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := viewer.Login(ctx, url, name, password)
	if err != nil {
		return nil, fmt.Errorf("log in %s: %w", name, err)
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect %s: %w", name, err)
	}
	return c, nil
}

// startMedia starts a viewer's peer that decodes every frame, with a
// bounded signalling time.
func startMedia(ctx context.Context, c *viewer.Client) (*viewer.Media, error) {
	return startMediaWith(ctx, c, viewer.MediaOptions{})
}

func startMediaWith(ctx context.Context, c *viewer.Client, o viewer.MediaOptions) (*viewer.Media, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	md, err := c.StartMediaWith(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("start media: %w", err)
	}
	return md, nil
}

// openDataChannel waits for the server's data channel to be open.
func openDataChannel(md *viewer.Media, timeout time.Duration) (*webrtc.DataChannel, error) {
	deadline := time.Now().Add(timeout)
	var dc *webrtc.DataChannel
	select {
	case dc = <-md.DataChannel:
	case <-time.After(timeout):
		return nil, fmt.Errorf("no data channel within %v", timeout)
	}
	for dc.ReadyState() != webrtc.DataChannelStateOpen {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("data channel not open within %v (%s)", timeout, dc.ReadyState())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return dc, nil
}

// keyMessage is a binary data-channel key event as Neko clients send it:
// op, total length (uint16), keysym (uint32), big-endian.
func keyMessage(down bool, keysym uint32) []byte {
	op := byte(0x04)
	if down {
		op = 0x03
	}
	b := []byte{op, 0, 7, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[3:], keysym)
	return b
}

// watchState follows session/state broadcasts on an observer session; it
// tells when a viewer's peer is gone. The server releases the capture
// pipelines before it marks the session as not watching, so "not
// watching" of the last viewer means the pipeline has stopped.
type watchState struct {
	ch <-chan json.RawMessage
}

func newWatchState(observer *viewer.Client) *watchState {
	return &watchState{ch: observer.Subscribe(types.EventSessionState)}
}

// waitNotWatching waits until session id is reported not watching.
func (w *watchState) waitNotWatching(id string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		select {
		case raw := <-w.ch:
			var st types.SessionStateEvent
			if json.Unmarshal(raw, &st) == nil && st.ID == id && !st.IsWatching {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("session %s still watching after %v", id, timeout)
		}
	}
}

// leave closes a viewer's peer and WebSocket.
func leave(c *viewer.Client, md *viewer.Media) {
	if md != nil {
		md.Close()
	}
	c.Close()
}

// firstFrame waits for the first decoded frame of a new peer.
func firstFrame(md *viewer.Media, timeout time.Duration) (viewer.Frame, error) {
	select {
	case f := <-md.Frames():
		return f, nil
	case <-time.After(timeout):
		return viewer.Frame{}, fmt.Errorf("no frame decoded within %v", timeout)
	}
}

// drainFrames drops the frames already queued, so a wait that follows
// sees only frames decoded from now on.
func drainFrames(md *viewer.Media) {
	for {
		select {
		case <-md.Frames():
		default:
			return
		}
	}
}

// colourDiff is the sum of the per-channel differences at the sample
// point.
func colourDiff(a, b viewer.Frame) int {
	ar, ag, ab := a.Pixel(sampleX, sampleY)
	br, bg, bb := b.Pixel(sampleX, sampleY)
	return absInt(int(ar)-int(br)) + absInt(int(ag)-int(bg)) + absInt(int(ab)-int(bb))
}

// colourNear reports whether the sample point of f is within tol of c on
// every channel.
func colourNear(f viewer.Frame, c rgb, tol int) bool {
	r, g, b := f.Pixel(sampleX, sampleY)
	return absInt(int(r)-int(c.r)) <= tol && absInt(int(g)-int(c.g)) <= tol && absInt(int(b)-int(c.b)) <= tol
}

type rgb struct{ r, g, b uint8 }

func (c rgb) css() string { return fmt.Sprintf("rgb(%d,%d,%d)", c.r, c.g, c.b) }

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
