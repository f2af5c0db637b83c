// Package stack starts a complete neko in-process for tests and
// benchmarks: its own X server, PulseAudio and window manager through the
// embedded runtime, with capture, WebRTC and the HTTP API on loopback.
package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jezek/xgb"
	"github.com/pion/transport/v5"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/neko-webrtc/neko/internal/app"
	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/web"
)

// TB is the part of testing.TB the stack needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	Logf(format string, args ...any)
}

// Stack is a running server.
type Stack struct {
	URL     string
	Display string
	// PulseServer is the embedded PulseAudio's address (for pulsesink
	// server=…); its null sink "audio_output" is what viewers hear.
	PulseServer string
	cancel      context.CancelFunc
	done        chan error
}

// Defaults are the options every test stack uses: loopback only (no
// public address asked of the Internet), fixed passwords, no browser
// (tests paint the screen themselves) unless asked.
var Defaults = map[string]any{
	"server.bind":                     "127.0.0.1:0",
	"webrtc.nat1to1":                  []string{"127.0.0.1"},
	"webrtc.ip_retrieval_url":         "",
	"member.multiuser.admin_password": "admin",
	"member.multiuser.user_password":  "neko",
	"runtime.app":                     "sleep 86400",
	"desktop.screen":                  "1280x720@30",
}

// Extra are the options of a stack that are not configuration.
type Extra struct {
	// Net, if set, is the network the server's ICE uses instead of the
	// host's, e.g. netns.Link.ServerNet(). Signalling (HTTP/WebSocket)
	// stays on the root namespace's loopback.
	//
	// Defaults set "webrtc.nat1to1" to 127.0.0.1, which makes the server
	// offer loopback candidates only: with a Net also pass
	// "webrtc.nat1to1": []string{} in opts so that it offers the addresses
	// of Net's interfaces (the loopback of Net is offered too, since the
	// server binds to loopback; it is harmless). Leave "webrtc.udpmux" and
	// "webrtc.tcpmux" unset: those sockets are opened on the host's
	// network, not through Net.
	Net transport.Net
	// WebcamFrames, if set, receives the frames the server decodes from
	// clients' webcams instead of capture.webcam.device (which must still
	// exist, with capture.webcam.enabled on).
	WebcamFrames func(frame []byte)
}

// Start runs a stack with Defaults overridden by opts; it stops at cleanup.
func Start(t TB, opts map[string]any) *Stack {
	t.Helper()
	return StartWith(t, opts, Extra{})
}

// StartWith is Start with options that are not configuration.
func StartWith(t TB, opts map[string]any, extra Extra) *Stack {
	t.Helper()
	// Always the embedded desktop: a DISPLAY of the machine running the
	// tests must not leak in.
	os.Unsetenv("DISPLAY")
	// xgb prints connection chatter through a package logger. Set once:
	// a stack still stopping reads it from its own goroutines.
	quietXGB.Do(func() { xgb.Logger = stdlog.New(io.Discard, "", 0) })
	v := viper.New()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	if err := config.RegisterFlags(fs, v); err != nil {
		t.Fatalf("register flags: %v", err)
	}
	for k, val := range Defaults {
		v.Set(k, val)
	}
	for k, val := range opts {
		v.Set(k, val)
	}
	cfg, err := config.Load(v)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	level := slog.LevelWarn
	if os.Getenv("NEKO_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(context.Background())
	s := &Stack{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan app.Info, 1)
	go func() {
		s.done <- app.Run(ctx, app.Options{Config: cfg, Client: web.Dist(), Logger: log, Net: extra.Net, WebcamFrames: extra.WebcamFrames, Ready: func(i app.Info) { ready <- i }})
	}()
	select {
	case info := <-ready:
		s.URL, s.Display, s.PulseServer = info.URL, info.Display, info.PulseServer
	case err := <-s.done:
		cancel()
		t.Fatalf("stack did not start: %v", err)
	case <-time.After(60 * time.Second):
		dumpGoroutines("did not start within 60s")
		cancel()
		t.Fatalf("stack did not start within 60s (goroutines on stderr)")
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the stack and waits for it (and its processes) to end.
func (s *Stack) Stop() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		dumpGoroutines("did not stop within 30s")
	}
}

var quietXGB sync.Once

// dumpGoroutines prints every goroutine's stack: a stack that hangs must
// show where, also in CI.
func dumpGoroutines(why string) {
	fmt.Fprintf(os.Stderr, "stack: %s; goroutines:\n", why)
	_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
	// A hang inside GStreamer or Xlib shows as a goroutine in a C call:
	// the C side's threads tell which lock it waits for. Best effort.
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		return
	}
	pids := []int{os.Getpid()}
	// The X server and the sound server a capture call may wait on.
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so after ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			if pid, err := strconv.Atoi(strings.Split(st, "/")[2]); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	for _, pid := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		fmt.Fprintf(os.Stderr, "stack: %s; threads of %d (%s):\n", why, pid, strings.TrimSpace(string(comm)))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, gdb, "-p", strconv.Itoa(pid), "-batch", "-nx", "-ex", "thread apply all bt 30")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		_ = cmd.Run()
		cancel()
	}
}
