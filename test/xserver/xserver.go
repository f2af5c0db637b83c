// Package xserver starts private X servers for tests.
package xserver

import (
	"bufio"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Main runs a package's tests (call it from TestMain) with xgb's log
// silenced: it reports a missing ~/.Xauthority on every connection, and
// the test servers run without authentication.
func Main(m *testing.M) {
	xgb.Logger = log.New(io.Discard, "", 0)
	os.Exit(m.Run())
}

// PaintRoot fills the root window of display with an xRGB colour, as
// another client would draw.
func PaintRoot(tb testing.TB, display string, rgb uint32) {
	tb.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xproto.ChangeWindowAttributesChecked(c, root, xproto.CwBackPixel, []uint32{rgb}).Check(); err != nil {
		tb.Fatal(err)
	}
	if err := xproto.ClearAreaChecked(c, false, root, 0, 0, 0, 0).Check(); err != nil {
		tb.Fatal(err)
	}
}

// Start runs an X server binary with args plus -displayfd, and returns
// the display it serves. The server picks a free display number itself and
// writes it to -displayfd once it accepts connections, so parallel test runs
// cannot collide. It is killed (by PID) when the test ends.
func Start(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	return Run(tb, name, args...).Display
}

// Server is a running X server.
type Server struct {
	Display string
	stop    func()
}

// Stop ends the server before the test does (it is otherwise stopped
// when the test ends).
func (s *Server) Stop() { s.stop() }

// Run is Start, returning the server so that a test can stop it early.
func Run(tb testing.TB, name string, args ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is required for desktop tests: %v", name, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()

	cmd := exec.Command(bin, append(args, "-displayfd", "3")...)
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		w.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	w.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			// SIGTERM lets the server remove its socket and lock file.
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(3 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		})
	}
	tb.Cleanup(stop)

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case n := <-line:
		if n == "" {
			<-exited
			tb.Fatalf("%s exited without a display number: %s", name, stderr.String())
		}
		return &Server{Display: ":" + n, stop: stop}
	case <-time.After(15 * time.Second):
		tb.Fatalf("%s did not report a display within 15s: %s", name, stderr.String())
	}
	return nil
}

// Xvfb starts an Xvfb of the given size (1280x720 when empty) with XTEST;
// it does not reset when its last client leaves (a reset refuses the next
// connections for a moment).
func Xvfb(tb testing.TB, size string) string {
	tb.Helper()
	if size == "" {
		size = "1280x720"
	}
	return Start(tb, "Xvfb", "-screen", "0", size+"x24", "-nolisten", "tcp", "-noreset", "+extension", "XTEST")
}

// lockedBuffer is the server's stderr, read while exec still copies into it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
