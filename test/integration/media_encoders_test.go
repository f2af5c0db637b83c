package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// pipelineMetric reads neko_capture_pipelines_<what>{stream="id"}; a
// missing metric fails the test.
func pipelineMetric(t *testing.T, s *stack.Stack, what, id string) string {
	t.Helper()
	name := fmt.Sprintf(`neko_capture_pipelines_%s{stream=%q}`, what, id)
	v := metric(t, s.URL, name)
	if v == "" {
		t.Fatalf("/metrics has no %s", name)
	}
	return v
}

// TestOneEncoderPerQuality: ten viewers watching the same quality at once
// share one video pipeline (and one audio pipeline), started once, and
// all of them decode what the screen shows; when they leave, the
// pipelines stop.
func TestOneEncoderPerQuality(t *testing.T) {
	const viewers = 10
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 220, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	for _, id := range []string{"main", "audio"} {
		if v := pipelineMetric(t, s, "running", id); v != "0" {
			t.Fatalf("%s: %s pipelines running before any viewer", id, v)
		}
		if v := pipelineMetric(t, s, "started_total", id); v != "0" {
			t.Fatalf("%s: %s pipelines started before any viewer", id, v)
		}
	}

	clients := make([]*viewer.Client, viewers)
	for i := range clients {
		clients[i] = login(t, s, fmt.Sprintf("viewer%d", i), "neko")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	medias := make([]*viewer.Media, viewers)
	errs := make([]error, viewers)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			medias[i], errs[i] = c.StartMedia(ctx)
		}()
	}
	wg.Wait()
	for i, md := range medias {
		if md != nil {
			defer md.Close()
		}
		if errs[i] != nil {
			t.Fatalf("viewer %d: %v", i, errs[i])
		}
	}
	waitAll := func(r, g, b uint8, timeout time.Duration) {
		t.Helper()
		for i, md := range medias {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, r, g, b, 40, timeout)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("viewer %d, colour (%d,%d,%d): %v", i, r, g, b, err)
			}
		}
	}
	waitAll(220, 30, 30, 30*time.Second)
	if err := paint.Fill(30, 60, 210); err != nil {
		t.Fatal(err)
	}
	waitAll(30, 60, 210, 15*time.Second)

	for _, id := range []string{"main", "audio"} {
		if v := pipelineMetric(t, s, "running", id); v != "1" {
			t.Fatalf("%s: %s pipelines running for %d viewers, want 1", id, v, viewers)
		}
		if v := pipelineMetric(t, s, "started_total", id); v != "1" {
			t.Fatalf("%s: %s pipelines started for %d viewers, want 1", id, v, viewers)
		}
	}

	for i, md := range medias {
		md.Close()
		clients[i].Close()
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, id := range []string{"main", "audio"} {
		for pipelineMetric(t, s, "running", id) != "0" {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the pipeline still runs after every viewer left", id)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if v := pipelineMetric(t, s, "started_total", id); v != "1" {
			t.Fatalf("%s: %s pipelines started in all, want 1", id, v)
		}
	}
}
