package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

func openFDs() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}

func metric(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Get(base + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// TestSessionChurn: viewers join and leave over WebRTC concurrently for a
// while (the reference crashes within 20–42 s of this with 20 sessions:
// a closed sample channel written by capture). The server must stay up,
// keep serving, and end with no peers and no leaked descriptors.
func TestSessionChurn(t *testing.T) {
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 90, 90, 200)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()

	// A steady viewer watches throughout and must keep getting frames.
	steady := login(t, s, "steady", "neko")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	md, err := steady.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 90, 90, 200, 40, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	fdsBefore := openFDs()

	const workers = 4
	deadline := time.Now().Add(12 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	cycles, failures := 0, 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				err := func() error {
					cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
					defer ccancel()
					c, err := viewer.Login(cctx, s.URL, fmt.Sprintf("churn%d-%d", w, i), "neko")
					if err != nil {
						return err
					}
					defer c.Do(cctx, "POST", "api/logout", nil, nil)
					if err := c.Connect(cctx); err != nil {
						return err
					}
					defer c.Close()
					m, err := c.StartMedia(cctx)
					if err != nil {
						return err
					}
					// Leave at different moments: before, during and after ICE.
					time.Sleep(time.Duration(i%4) * 150 * time.Millisecond)
					m.Close()
					return nil
				}()
				mu.Lock()
				cycles++
				if err != nil {
					failures++
					t.Logf("cycle failed: %v", err)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	t.Logf("%d join/leave cycles, %d failed", cycles, failures)
	if cycles < 8 || failures > cycles/10 {
		t.Fatalf("%d cycles, %d failures", cycles, failures)
	}

	// The steady viewer never lost its picture.
	if err := paint.Fill(200, 90, 90); err != nil {
		t.Fatal(err)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 90, 90, 40, 10*time.Second); err != nil {
		t.Fatalf("steady viewer after churn: %v", err)
	}
	// Only the steady viewer's peer is left, and descriptors came back.
	waitUntil := time.Now().Add(15 * time.Second)
	for metric(t, s.URL, "neko_webrtc_peers") != "1" || metric(t, s.URL, "neko_sessions") != "1" {
		if time.Now().After(waitUntil) {
			t.Fatalf("after churn: peers %s sessions %s", metric(t, s.URL, "neko_webrtc_peers"), metric(t, s.URL, "neko_sessions"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// go-gst frees pipelines (and their buses' socket pairs) in finalizers;
	// let them run, as the runtime would within its two-minute forced GC.
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
	}
	for openFDs() > fdsBefore+20 {
		if time.Now().After(waitUntil) {
			kinds := map[string]int{}
			entries, _ := os.ReadDir("/proc/self/fd")
			for _, e := range entries {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				if i := strings.IndexAny(l, "[:"); i > 0 {
					l = l[:i]
				}
				kinds[l]++
			}
			t.Fatalf("descriptors: %d before churn, %d after: %v; sockets: %v", fdsBefore, openFDs(), kinds, socketKinds())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// socketKinds classifies this process's sockets by protocol (debugging
// aid for leaks).
func socketKinds() map[string]int {
	inodes := map[string]string{}
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6", "unix"} {
		data, _ := os.ReadFile("/proc/net/" + proto)
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			idx := 9
			if proto == "unix" {
				idx = 6
			}
			if len(f) > idx {
				inodes[f[idx]] = proto
				if proto != "unix" && len(f) > 3 {
					inodes[f[idx]] = proto + "/" + f[3]
				}
			}
		}
	}
	out := map[string]int{}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.HasPrefix(l, "socket:[") {
			out[inodes[strings.Trim(l[7:], "[]")]]++
		}
	}
	return out
}
