package capture

import (
	"github.com/neko-webrtc/neko/internal/capture/gst"

	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type statusLog struct {
	mu  sync.Mutex
	got []bool
}

func (l *statusLog) add(active bool, _ string) {
	l.mu.Lock()
	l.got = append(l.got, active)
	l.mu.Unlock()
}

func (l *statusLog) list() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.got...)
}

func TestBroadcastLifecycle(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.flv")
	var log statusLog
	b := NewBroadcast(BroadcastOptions{
		Pipeline: "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=10/1 ! x264enc tune=zerolatency ! flvmux ! filesink location={url} buffer-mode=unbuffered",
		OnStatus: log.add,
	})
	if err := b.Stop(); !errors.Is(err, ErrBroadcastInactive) {
		t.Fatalf("stop while inactive: %v", err)
	}
	if err := b.Start(""); !errors.Is(err, ErrBroadcastURL) {
		t.Fatalf("empty url: %v", err)
	}
	if err := b.Start(out); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(out); !errors.Is(err, ErrBroadcastActive) {
		t.Fatalf("second start: %v", err)
	}
	if active, u := b.Status(); !active || u != out {
		t.Fatalf("status %v %q", active, u)
	}
	waitUntil(t, "data written", func() bool { st, err := os.Stat(out); return err == nil && st.Size() > 500 })
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if active, _ := b.Status(); active {
		t.Fatal("still active")
	}
	if got := log.list(); len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("status changes %v", got)
	}
}

// TestBroadcastUnreachable: a url nobody listens on ends the broadcast
// with a status change, or refuses to start; nothing else breaks.
func TestBroadcastUnreachable(t *testing.T) {
	var log statusLog
	b := NewBroadcast(BroadcastOptions{
		Pipeline: "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=10/1 ! x264enc tune=zerolatency ! flvmux streamable=true ! rtmpsink location={url}",
		OnStatus: log.add,
	})
	if err := b.Start("rtmp://127.0.0.1:1/live/key"); err != nil {
		t.Logf("refused at start: %v", err)
		return
	}
	// Status turns inactive just before listeners are told; wait for both.
	waitUntil(t, "failure reported", func() bool { active, _ := b.Status(); return !active && len(log.list()) == 2 })
	if got := log.list(); len(got) != 2 || got[1] {
		t.Fatalf("status changes %v", got)
	}
	time.Sleep(10 * time.Millisecond)
	// Usable again.
	if err := b.Stop(); !errors.Is(err, ErrBroadcastInactive) {
		t.Fatalf("stop after failure: %v", err)
	}
}

func TestBroadcastDefaultPipeline(t *testing.T) {
	b := NewBroadcast(BroadcastOptions{Display: ":7", AudioDevice: "audio_output.monitor"})
	if err := b.Start("http://example.invalid/x"); !errors.Is(err, ErrBroadcastURL) {
		t.Fatalf("non-rtmp url: %v", err)
	}
	d, feed := b.description("rtmp://127.0.0.1/live/key")
	if feed == nil || !feed.Pointer || !feed.Follow || feed.FPS != 25 {
		t.Fatalf("feed %+v", feed)
	}
	if err := gst.Check(d); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`rtmpsink location="rtmp://127.0.0.1/live/key live=1"`, "appsrc name=src", "voaacenc bitrate=128000", "speed-preset=veryfast", "bitrate=4096"} {
		if !contains(d, part) {
			t.Errorf("pipeline lacks %q: %s", part, d)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
