package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// rtmpServer runs nginx with the RTMP module on a free loopback port, in
// the foreground with its own configuration, until the test ends. It
// returns the server's address.
func rtmpServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		// Debian keeps it in /usr/sbin, not always in a test's PATH.
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			t.Fatalf("nginx is not installed (deploy/install.sh: nginx-light, libnginx-mod-rtmp): %v", err)
		}
		bin = "/usr/sbin/nginx"
	}
	mods, _ := filepath.Glob("/usr/lib/nginx/modules/ngx_rtmp_module.so")
	if len(mods) == 0 {
		t.Fatal("the nginx RTMP module is not installed (deploy/install.sh: libnginx-mod-rtmp)")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	conf := filepath.Join(dir, "nginx.conf")
	errLog := filepath.Join(dir, "error.log")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off;
master_process off;
pid %s/nginx.pid;
error_log %s info;
load_module %s;
events { worker_connections 64; }
rtmp {
	server {
		listen %s;
		application live { live on; record off; }
	}
}
`, dir, errLog, mods[0], addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", errLog)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			if b, err := os.ReadFile(errLog); err == nil {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(errLog)
			t.Fatalf("nginx exited: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx does not listen after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probeStreams asks ffprobe which streams a live url carries
// ("video/h264", "audio/aac", sorted).
func probeStreams(t *testing.T, url string) []string {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatalf("ffprobe is not installed (deploy/install.sh: ffmpeg): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rw_timeout", "15000000",
		"-show_entries", "stream=codec_type,codec_name", "-of", "json", url).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v %s", url, err, msg)
	}
	var res struct {
		Streams []struct {
			Type  string `json:"codec_type"`
			Codec string `json:"codec_name"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	var got []string
	for _, s := range res.Streams {
		got = append(got, s.Type+"/"+s.Codec)
	}
	sort.Strings(got)
	return got
}

// waitBroadcastEvent waits for a broadcast/status event with IsActive ==
// active.
func waitBroadcastEvent(t *testing.T, status <-chan json.RawMessage, active bool, timeout time.Duration) types.BroadcastStatus {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case raw := <-status:
			if st := decode[types.BroadcastStatus](t, raw); st.IsActive == active {
				return st
			}
		case <-deadline:
			t.Fatalf("no broadcast/status with is_active=%v within %v", active, timeout)
		}
	}
}

// TestBroadcastRTMP broadcasts the desktop with the default pipeline to a
// real RTMP server (nginx) and reads it back with ffprobe: H.264 video and
// AAC audio. Stopping ends it; a broadcast to a closed port reports its
// failure and leaves the server (and later broadcasts) working.
func TestBroadcastRTMP(t *testing.T) {
	server := rtmpServer(t)
	s := stack.Start(t, nil)
	paint, err := stack.NewPainter(s.Display, 30, 60, 210)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	admin := login(t, s, "admin", "admin")
	status := admin.Subscribe(types.EventBroadcastStatus)

	url := "rtmp://" + server + "/live/test"
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/start", map[string]string{"url": url}); code != http.StatusNoContent {
		t.Fatalf("start: %d", code)
	}
	if st := waitBroadcastEvent(t, status, true, 5*time.Second); st.URL != url {
		t.Fatalf("broadcast/status %+v", st)
	}
	got := probeStreams(t, url)
	if strings.Join(got, ",") != "audio/aac,video/h264" {
		t.Fatalf("the RTMP stream has %v, want H.264 video and AAC audio", got)
	}
	if st := broadcastStatus(t, admin); !st.IsActive || st.URL != url {
		t.Fatalf("GET broadcast while live: %+v", st)
	}
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/stop", nil); code != http.StatusNoContent {
		t.Fatalf("stop: %d", code)
	}
	waitBroadcastEvent(t, status, false, 5*time.Second)
	if st := broadcastStatus(t, admin); st.IsActive || st.URL != "" {
		t.Fatalf("GET broadcast after stop: %+v", st)
	}

	// A closed port: refused at once (500) or reported a moment later.
	closed := fmt.Sprintf("rtmp://127.0.0.1:%d/live/test", freeTCPPort(t))
	switch code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/start", map[string]string{"url": closed}); code {
	case http.StatusInternalServerError:
	case http.StatusNoContent:
		waitBroadcastEvent(t, status, false, 15*time.Second)
	default:
		t.Fatalf("start to a closed port: %d", code)
	}
	if st := broadcastStatus(t, admin); st.IsActive {
		t.Fatalf("GET broadcast after the failure: %+v", st)
	}
	// The server is healthy: /health answers, viewers get the desktop, and
	// broadcasting to the real server works again.
	resp, err := http.Get(s.URL + "health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health after the failed broadcast: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := admin.StartMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 30, 60, 210, 40, 10*time.Second); err != nil {
		t.Fatalf("viewer after the failed broadcast: %v", err)
	}
	md.Close()
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/start", map[string]string{"url": url}); code != http.StatusNoContent {
		t.Fatalf("start again: %d", code)
	}
	waitBroadcastEvent(t, status, true, 5*time.Second)
	if got := probeStreams(t, url); strings.Join(got, ",") != "audio/aac,video/h264" {
		t.Fatalf("the second RTMP stream has %v", got)
	}
	if code := broadcastCall(t, admin, http.MethodPost, "api/room/broadcast/stop", nil); code != http.StatusNoContent {
		t.Fatalf("stop again: %d", code)
	}
}

// TestBroadcastAutostart: with capture.broadcast.url set, the server
// broadcasts from the start (autostart, the default) and reports it;
// with autostart off nothing goes out until an admin starts it.
func TestBroadcastAutostart(t *testing.T) {
	server := rtmpServer(t)
	url := "rtmp://" + server + "/live/auto"
	s := stack.Start(t, map[string]any{"capture.broadcast.url": url})
	admin := login(t, s, "admin", "admin")
	if got := probeStreams(t, url); strings.Join(got, ",") != "audio/aac,video/h264" {
		t.Fatalf("the autostarted RTMP stream has %v, want H.264 video and AAC audio", got)
	}
	if st := broadcastStatus(t, admin); !st.IsActive || st.URL != url {
		t.Fatalf("GET broadcast with autostart: %+v", st)
	}

	off := stack.Start(t, map[string]any{"capture.broadcast.url": url + "2", "capture.broadcast.autostart": false})
	if st := broadcastStatus(t, login(t, off, "admin", "admin")); st.IsActive {
		t.Fatalf("GET broadcast with autostart off: %+v", st)
	}
}
