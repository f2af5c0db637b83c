package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

func broadcastCall(t *testing.T, c *viewer.Client, method, path string, body any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	code, err := c.Do(ctx, method, path, raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func broadcastStatus(t *testing.T, c *viewer.Client) types.BroadcastStatus {
	t.Helper()
	var st types.BroadcastStatus
	if code, err := c.Do(context.Background(), http.MethodGet, "api/room/broadcast", nil, &st); err != nil || code != http.StatusOK {
		t.Fatalf("GET broadcast: %d %v", code, err)
	}
	return st
}

// TestBroadcast drives the broadcast API: admins only, start/stop with the
// reference's status codes, broadcast/status events to admins, and a real
// capture of the desktop (the custom pipeline writes FLV to a file, as no
// RTMP server runs here); an unreachable RTMP url reports an error and
// leaves the server working.
func TestBroadcast(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cast.flv")
	s := stack.Start(t, map[string]any{
		"capture.broadcast.pipeline": "flvmux name=mux ! filesink location={url} buffer-mode=unbuffered " +
			"ximagesrc display-name={display} use-damage=false ! video/x-raw,framerate=10/1 ! videoconvert ! video/x-raw,format=I420 " +
			"! x264enc tune=zerolatency speed-preset=ultrafast threads=1 ! h264parse ! queue ! mux.",
	})
	admin := login(t, s, "admin", "admin")
	user := login(t, s, "viewer", "neko")
	status := admin.Subscribe(types.EventBroadcastStatus)

	if code := broadcastCall(t, user, http.MethodPost, "api/room/broadcast/start", map[string]string{"url": out}); code != http.StatusForbidden {
		t.Fatalf("non-admin start: %d", code)
	}
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/stop", nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("stop while idle: %d", code)
	}
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/start", map[string]string{}); code != http.StatusBadRequest {
		t.Fatalf("start without url: %d", code)
	}
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/start", map[string]string{"url": out}); code != http.StatusNoContent {
		t.Fatalf("start: %d", code)
	}
	raw, err := viewer.Wait(status, 5*time.Second)
	if err != nil {
		t.Fatal("no broadcast/status after start")
	}
	if st := decode[types.BroadcastStatus](t, raw); !st.IsActive || st.URL != out {
		t.Fatalf("broadcast/status %+v", st)
	}
	if st := broadcastStatus(t, admin); !st.IsActive || st.URL != out {
		t.Fatalf("GET broadcast %+v", st)
	}
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/start", map[string]string{"url": out}); code != http.StatusUnprocessableEntity {
		t.Fatalf("second start: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(out); err == nil && st.Size() > 3000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the broadcast wrote nothing")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/stop", nil); code != http.StatusNoContent {
		t.Fatalf("stop: %d", code)
	}
	raw, _ = viewer.Wait(status, 5*time.Second)
	if st := decode[types.BroadcastStatus](t, raw); st.IsActive {
		t.Fatalf("broadcast/status after stop %+v", st)
	}
}

func TestBroadcastUnreachable(t *testing.T) {
	s := stack.Start(t, nil)
	admin := login(t, s, "admin", "admin")
	status := admin.Subscribe(types.EventBroadcastStatus)
	code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/start", map[string]string{"url": "rtmp://127.0.0.1:1/live/key"})
	switch code {
	case http.StatusInternalServerError:
		// Refused at once.
	case http.StatusNoContent:
		// Fails a moment later: admins are told.
		deadline := time.After(10 * time.Second)
		for active := true; active; {
			select {
			case raw := <-status:
				active = decode[types.BroadcastStatus](t, raw).IsActive
			case <-deadline:
				t.Fatal("the failed broadcast was never reported")
			}
		}
	default:
		t.Fatalf("start: %d", code)
	}
	if st := broadcastStatus(t, admin); st.IsActive {
		t.Fatalf("still active: %+v", st)
	}
	// The server is fine: media still works.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := admin.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if err := md.WaitFrames(5, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
