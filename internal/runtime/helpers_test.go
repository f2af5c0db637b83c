package runtime

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireTool returns the path of a program the test needs; a missing one
// fails the test (the runtime's dependencies are part of the environment).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required: %v", name, err)
	}
	return p
}

func runTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// logBuffer collects log output and shows it when the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			out := b.String()
			if len(out) > 200000 {
				out = "...\n" + out[len(out)-200000:]
			}
			t.Logf("runtime log:\n%s", out)
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls cond every 100ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkGoroutines fails if the number of goroutines does not drop back to
// (about) base.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	var n int
	if !eventually(3*time.Second, func() bool { n = goruntime.NumGoroutine(); return n <= base }) {
		buf := make([]byte, 1<<20)
		buf = buf[:goruntime.Stack(buf, true)]
		t.Errorf("goroutine leak: %d running, %d before\n%s", n, base, buf)
	}
}

// allPids returns every live process of the runtime's children.
func allPids(r *Runtime) []pidKey {
	r.mu.Lock()
	procs := append([]*proc(nil), r.procs...)
	r.mu.Unlock()
	var out []pidKey
	for _, p := range procs {
		if in := p.current(); in != nil {
			out = append(out, in.tree()...)
		}
	}
	return out
}

func checkAllGone(t *testing.T, pids []pidKey) {
	t.Helper()
	for _, k := range pids {
		if k.alive() {
			cmd, _ := exec.Command("ps", "-o", "pid,ppid,pgid,stat,args", "-p", strconv.Itoa(k.pid)).CombinedOutput()
			t.Errorf("process %d still running after Stop:\n%s", k.pid, cmd)
		}
	}
}
