// Package e2e runs the end-to-end check: the real server with its
// embedded desktop and Chromium, and the real web client in a second,
// headless Chromium driven by Playwright (e2e.mjs).
package e2e

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/test/stack"
)

// remotePage is what the shared Chromium shows: a known background colour
// and a text input the test clicks into through the video.
const remotePage = `<!doctype html><html><body style="margin:0;background:rgb(40,160,220);height:100vh">` +
	`<input id="t" autocomplete="off" style="position:absolute;left:520px;top:300px;width:240px;height:48px;font-size:28px">` +
	`</body></html>`

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestWebClientEndToEnd(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the end-to-end test (deploy/install.sh installs it)")
	}
	if _, err := os.Stat("../../web/node_modules/playwright-core"); err != nil {
		t.Fatal("web/node_modules/playwright-core is missing: run deploy/install.sh")
	}
	cdp := freePort(t)
	s := stack.Start(t, map[string]any{
		"runtime.app":           "",
		"runtime.url":           "data:text/html," + url.PathEscape(remotePage),
		"runtime.devtools_port": cdp,
		// Two qualities and the estimator, for the quality menu.
		"capture.video.ids": []string{"hq", "lq"},
		"capture.video.pipelines": `{
			"hq": {"gst_encoder": "vp8enc", "gst_params": {"deadline": 1, "cpu-used": 16, "threads": 1, "end-usage": "cbr",
				"target-bitrate": 3000000, "lag-in-frames": 0, "keyframe-max-dist": "fps * 4"}},
			"lq": {"width": "width / 2", "height": "height / 2", "gst_encoder": "vp8enc",
				"gst_params": {"deadline": 1, "cpu-used": 16, "threads": 1, "end-usage": "cbr", "target-bitrate": 800000,
				"lag-in-frames": 0, "keyframe-max-dist": "fps * 4"}}
		}`,
		"webrtc.estimator.enabled": true,
	})

	artifacts, _ := filepath.Abs("artifacts")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs")
	cmd.Env = append(os.Environ(),
		"NEKO_URL="+s.URL,
		"NEKO_USERNAME=tester",
		"NEKO_PASSWORD=admin",
		"NEKO_USER_PASSWORD=neko",
		"REMOTE_CDP_URL=http://127.0.0.1:"+strconv.Itoa(cdp),
		"REMOTE_BG=40,160,220",
		"REMOTE_INPUT_SELECTOR=#t",
		"SCREENSHOT_DIR="+artifacts,
	)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = testWriter{t}
	err = cmd.Run()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	t.Logf("result: %s", lines[len(lines)-1])
	if err != nil {
		t.Fatalf("end-to-end run failed: %v (screenshots in %s)", err, artifacts)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
