package runtime

import (
	"context"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func shellProc(t *testing.T, name, script string) (*proc, *logBuffer, func()) {
	t.Helper()
	log, logs := testLogger(t)
	sp := newSpawner()
	life, end := context.WithCancel(context.Background())
	p := newProc(procSpec{
		name:    name,
		level:   genericLevel,
		timeout: 5 * time.Second,
		build: func() (*launch, error) {
			return &launch{cmd: exec.Command("/bin/sh", "-c", script)}, nil
		},
	}, log, sp, life)
	return p, logs, func() { end(); sp.close() }
}

// A child that keeps dying is restarted with growing delays, and its output
// is logged line by line with its name.
func TestSuperviseRestarts(t *testing.T) {
	base := goruntime.NumGoroutine()
	p, logs, done := shellProc(t, "crasher", `echo "hello from $$"; echo "some error" >&2; exit 3`)
	t0 := time.Now()
	if err := p.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Restarts after 0.5s, then 1s later: three runs within ~1.5s.
	if !eventually(5*time.Second, func() bool { return strings.Count(logs.String(), "hello from") >= 3 }) {
		t.Fatalf("not restarted 2 times:\n%s", logs.String())
	}
	if el := time.Since(t0); el < 1400*time.Millisecond {
		t.Errorf("3 runs in %s: back-off too short", el)
	}
	out := logs.String()
	for _, want := range []string{`level=DEBUG msg="hello from`, `level=WARN msg="some error" proc=crasher`,
		`msg="process exited unexpectedly, restarting" proc=crasher`, "restart_in=500ms", "restart_in=1s"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if err := p.stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := strings.Count(logs.String(), "hello from")
	time.Sleep(2500 * time.Millisecond)
	if m := strings.Count(logs.String(), "hello from"); m != n {
		t.Errorf("restarted after stop (%d runs, then %d)", n, m)
	}
	done()
	checkGoroutines(t, base)
}

// Stop ends the whole tree: background jobs, a process in its own session,
// a daemon re-parented to init and processes that ignore SIGTERM.
func TestStopKillsTree(t *testing.T) {
	requireTool(t, "setsid")
	base := goruntime.NumGoroutine()
	p, logs, done := shellProc(t, "tree", `
		sleep 1000 &
		setsid sleep 1001 &
		(trap "" TERM; exec sleep 1002) &
		setsid sh -c 'sleep 1003 & exit' &
		trap "" TERM
		echo started
		wait`)
	defer done()
	if err := p.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The daemon is re-parented once its shell exits; wait for that too.
	var pids []pidKey
	orphans := func() int {
		n := 0
		for _, k := range pids {
			if st, err := readProcStat(k.pid); err == nil && st.ppid != p.current().pid && st.pid != p.current().pid {
				n++
			}
		}
		return n
	}
	if !eventually(5*time.Second, func() bool {
		pids = p.current().tree()
		return len(pids) == 5 && strings.Contains(logs.String(), "started") && orphans() == 1
	}) {
		t.Fatalf("expected 5 processes with one re-parented, have %v (%d re-parented)", pids, orphans())
	}
	t0 := time.Now()
	if err := p.stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < stopGrace || el > stopGrace+2*time.Second {
		t.Errorf("stop took %s, want about the %s grace period", el, stopGrace)
	}
	checkAllGone(t, pids)
	if strings.Contains(logs.String(), "restarting") {
		t.Errorf("restarted while stopping:\n%s", logs.String())
	}
	// A cancelled context skips the grace period.
	p2, _, done2 := shellProc(t, "stubborn", `trap "" TERM; echo started; while :; do sleep 1; done`)
	defer done2()
	if err := p2.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	pids = p2.current().tree()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	t0 = time.Now()
	if err := p2.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > time.Second {
		t.Errorf("stop with cancelled context took %s", el)
	}
	checkAllGone(t, pids)
	done()
	done2()
	checkGoroutines(t, base)
}

// TestChildrenInheritNoDescriptors: a descriptor a C library opened
// without close-on-exec (here a raw socketpair) does not reach a child.
func TestChildrenInheritNoDescriptors(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0) // no SOCK_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	p, logs, done := shellProc(t, "fds", `ls /proc/$$/fd | tr '\n' ' '; echo; sleep 30`)
	defer done()
	if err := p.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.stop(context.Background()) }()
	if !eventually(5*time.Second, func() bool { return strings.Contains(logs.String(), " 2 ") }) {
		t.Fatalf("no descriptor list from the child:\n%s", logs.String())
	}
	for _, fd := range fds {
		if strings.Contains(logs.String(), " "+strconv.Itoa(fd)+" ") {
			t.Errorf("the child inherited descriptor %d:\n%s", fd, logs.String())
		}
	}
}
