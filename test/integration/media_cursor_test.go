package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// waitData returns the next data-channel message with op.
func waitData(t *testing.T, md *viewer.Media, op byte, timeout time.Duration, match func([]byte) bool) []byte {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case msg := <-md.DataMessages():
			if len(msg) < 3 || int(binary.BigEndian.Uint16(msg[1:3])) != len(msg) {
				t.Fatalf("malformed data-channel message % x", msg)
			}
			if msg[0] == op && (match == nil || match(msg)) {
				return msg
			}
		case <-deadline:
			t.Fatalf("no data-channel message 0x%02x within %v", op, timeout)
			return nil
		}
	}
}

// TestCursorOverDataChannel: a viewer gets the cursor image and the
// pointer position when its data channel opens, and the host's moves as
// they happen, in the v3 binary layout.
func TestCursorOverDataChannel(t *testing.T) {
	s := stack.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host := login(t, s, "admin", "admin")
	hostCh := host.Subscribe(types.EventControlHost)
	if err := host.Send(ctx, types.EventControlRequest, nil); err != nil {
		t.Fatal(err)
	}
	waitHost(t, hostCh, host.SessionID)
	if err := host.Send(ctx, types.EventControlMove, types.ControlPos{X: 40, Y: 30}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)

	md, err := login(t, s, "viewer", "neko").StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	img := waitData(t, md, 0x02, 10*time.Second, nil)
	w, h := binary.BigEndian.Uint16(img[3:]), binary.BigEndian.Uint16(img[5:])
	xhot, yhot := binary.BigEndian.Uint16(img[7:]), binary.BigEndian.Uint16(img[9:])
	if w == 0 || h == 0 || w > 256 || h > 256 || xhot >= w || yhot >= h || !bytes.HasPrefix(img[11:], []byte("\x89PNG")) {
		t.Fatalf("cursor image %dx%d hot %d,%d, data % x", w, h, xhot, yhot, img[11:min(len(img), 19)])
	}
	pos := func(x, y int) func([]byte) bool {
		return func(m []byte) bool {
			return int(binary.BigEndian.Uint16(m[3:])) == x && int(binary.BigEndian.Uint16(m[5:])) == y
		}
	}
	waitData(t, md, 0x01, 5*time.Second, pos(40, 30))

	if err := host.Send(ctx, types.EventControlMove, types.ControlPos{X: 321, Y: 123}); err != nil {
		t.Fatal(err)
	}
	waitData(t, md, 0x01, 5*time.Second, pos(321, 123))
}
