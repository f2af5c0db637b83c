package runtime

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Supervision timings.
const (
	minBackoff   = 500 * time.Millisecond // first restart delay
	maxBackoff   = 30 * time.Second       // restart delay cap
	stableAfter  = 30 * time.Second       // uptime after which the delay resets
	stopGrace    = 3 * time.Second        // SIGTERM -> SIGKILL
	killWait     = 5 * time.Second        // how long to wait for SIGKILLed processes
	logDrainWait = 2 * time.Second        // how long to wait for output after the processes are gone
	pollInterval = 25 * time.Millisecond
	maxLogLine   = 16 << 10
)

var (
	errStopped = errors.New("runtime stopped")
	errExited  = errors.New("process exited")
)

// spawner forks every child from one dedicated, locked OS thread.
//
// Children get Pdeathsig SIGKILL so that they die with neko even when neko
// is killed without a chance to clean up. Linux delivers that signal when the
// *thread* that forked the child exits, not the process; the Go runtime may
// end a thread (it does when a goroutine exits while locked to its thread,
// which cgo and GStreamer code may do), which would kill the child at a
// random moment. Forking from a goroutine that stays locked to its thread
// for the life of the Runtime makes the signal fire only when neko itself
// dies or after Stop, when the spawner exits (its thread is discarded
// because it exits locked) and every child is already gone.
type spawner struct {
	reqs chan func()
	quit chan struct{}
	done chan struct{}
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends with the goroutine
		defer close(s.done)
		for {
			select {
			case f := <-s.reqs:
				f()
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

// do runs f on the spawner thread, after marking every inherited
// descriptor close-on-exec (see markCloseOnExec).
func (s *spawner) do(f func()) error {
	fin := make(chan struct{})
	select {
	case s.reqs <- func() { defer close(fin); markCloseOnExec(); f() }:
		<-fin
		return nil
	case <-s.done:
		return errStopped
	}
}

func (s *spawner) close() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.done
}

// tagVar is the environment variable that marks the processes of one
// instance, see processTree.
const tagVar = "NEKO_RUNTIME_TAG"

func newTag() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return tagVar + "=" + hex.EncodeToString(b)
}

// launch describes one start of a child.
type launch struct {
	cmd *exec.Cmd
	// ready, if set, waits until the started instance is usable.
	ready func(ctx context.Context, inst *instance) error
	// closers are closed once the start attempt is over (pipe ends, ...).
	closers []io.Closer
}

func (l *launch) close() {
	for _, c := range l.closers {
		_ = c.Close()
	}
}

// procSpec describes a supervised child.
type procSpec struct {
	name string
	// before, if set, runs before every start (e.g. wait for the X server).
	before func(ctx context.Context) error
	// build returns a fresh command for every start.
	build func() (*launch, error)
	// level picks the log level of one output line.
	level func(line string) slog.Level
	// timeout bounds before+start+ready of a restart.
	timeout time.Duration
}

// instance is one running OS process of a child (the leader of its own
// process group).
type instance struct {
	name    string
	pid     int
	key     pidKey
	tag     string // environment entry only this instance's processes have
	started time.Time
	exited  chan struct{} // closed when Wait returned
	waitErr error         // valid after exited is closed
	logDone chan struct{} // closed when the output reader is done
	out     *os.File      // read end of the output pipe
	outOnce sync.Once

	termMu sync.Mutex
	termed bool // terminate completed: nothing of the instance runs
}

func (in *instance) closeOutput() { in.outOnce.Do(func() { _ = in.out.Close() }) }

func (in *instance) hasExited() bool {
	select {
	case <-in.exited:
		return true
	default:
		return false
	}
}

// exitError describes how the instance ended.
func (in *instance) exitError() error {
	if in.waitErr == nil {
		return fmt.Errorf("%s (pid %d) exited with status 0", in.name, in.pid)
	}
	return fmt.Errorf("%s (pid %d): %w", in.name, in.pid, in.waitErr)
}

// tree returns the live processes of the instance (its group and descendants).
func (in *instance) tree() []pidKey {
	ps := processTree(in.key, in.tag)
	keys := make([]pidKey, len(ps))
	for i, p := range ps {
		keys[i] = p.key()
	}
	return keys
}

// signal sends sig to the instance's process group and to every process of
// known that is not in the group.
func (in *instance) signal(sig syscall.Signal, known []pidKey) {
	_ = syscall.Kill(-in.pid, sig)
	for _, k := range known {
		k.signal(sig)
	}
}

// gone reports whether the leader was reaped and no process of the instance
// (including those in known) is still running.
func (in *instance) gone(known []pidKey) bool {
	if !in.hasExited() {
		return false
	}
	// Reap members of our group that were re-parented to us (when neko is
	// pid 1 or a subreaper). Only our own group: this never steals an exit
	// status another part of the program waits for.
	for {
		pid, err := syscall.Wait4(-in.pid, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			break
		}
	}
	for _, k := range known {
		if k.alive() {
			return false
		}
	}
	return len(processTree(in.key, in.tag)) == 0
}

func (in *instance) waitGone(ctx context.Context, d time.Duration, known []pidKey) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if in.gone(known) {
			return true
		}
		select {
		case <-ctx.Done():
			return in.gone(known)
		case <-deadline.C:
			return in.gone(known)
		case <-tick.C:
		}
	}
}

// terminate ends the instance: SIGTERM to its whole tree, SIGKILL after
// grace (or as soon as ctx ends), then waits for the processes and for the
// output reader.
func (in *instance) terminate(ctx context.Context, grace time.Duration) error {
	// Serialised and done once: after the group is gone its id may be
	// reused, so it must not be signalled again.
	in.termMu.Lock()
	defer in.termMu.Unlock()
	if in.termed {
		return nil
	}
	known := in.tree()
	var err error
	if grace > 0 && ctx.Err() == nil {
		in.signal(syscall.SIGTERM, known)
		if in.waitGone(ctx, grace, known) {
			goto drained
		}
	}
	known = append(known, in.tree()...)
	in.signal(syscall.SIGKILL, known)
	if !in.waitGone(context.Background(), killWait, known) {
		err = fmt.Errorf("%s (pid %d): processes still running after SIGKILL", in.name, in.pid)
	}
drained:
	in.termed = err == nil
	// Every writer of the output pipe is gone, so the reader sees EOF; the
	// close only matters if something escaped and still holds the pipe.
	select {
	case <-in.logDone:
	case <-time.After(logDrainWait):
		in.closeOutput()
		<-in.logDone
	}
	return err
}

// readOutput logs every line the instance writes to stdout or stderr.
func (in *instance) readOutput(log *slog.Logger, level func(string) slog.Level) {
	defer close(in.logDone)
	defer in.closeOutput()
	br := bufio.NewReaderSize(in.out, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			s := string(trimEOL(line))
			if err == bufio.ErrBufferFull {
				s += " [line truncated]"
				for err == bufio.ErrBufferFull {
					_, err = br.ReadSlice('\n')
				}
			}
			if s != "" {
				log.Log(context.Background(), level(s), s, "proc", in.name)
			}
		}
		if err != nil {
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// proc is a supervised child: started once, restarted with exponential
// back-off whenever it exits on its own, until it is stopped.
type proc struct {
	spec    procSpec
	log     *slog.Logger
	spawner *spawner
	life    context.Context // ends when the runtime stops

	mu         sync.Mutex
	stopping   bool
	cur        *instance
	supervised bool
	stopCh     chan struct{} // closed by markStopping
	loopDone   chan struct{} // closed when the supervision loop ended
}

func newProc(spec procSpec, log *slog.Logger, sp *spawner, life context.Context) *proc {
	return &proc{spec: spec, log: log, spawner: sp, life: life,
		stopCh: make(chan struct{}), loopDone: make(chan struct{})}
}

// start starts the first instance and, once it is ready, supervises it.
func (p *proc) start(ctx context.Context) error {
	inst, err := p.startOnce(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return errStopped // stop terminates p.cur
	}
	p.supervised = true
	p.mu.Unlock()
	go p.supervise(inst)
	return nil
}

// startOnce runs before, spawns one instance and waits until it is ready.
// On failure nothing of the attempt is left running.
func (p *proc) startOnce(ctx context.Context) (*instance, error) {
	if p.spec.before != nil {
		if err := p.spec.before(ctx); err != nil {
			return nil, err
		}
	}
	l, err := p.spec.build()
	if err != nil {
		return nil, err
	}
	defer l.close()
	inst, err := p.spawn(l.cmd)
	if err != nil {
		return nil, err
	}
	if l.ready != nil {
		if err := l.ready(ctx, inst); err != nil {
			_ = inst.terminate(context.Background(), 0)
			p.mu.Lock()
			if p.cur == inst {
				p.cur = nil
			}
			p.mu.Unlock()
			return nil, err
		}
	}
	return inst, nil
}

func (p *proc) spawn(cmd *exec.Cmd) (*instance, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	tag := newTag()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, tag)
	cmd.Stdin = nil
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		r.Close()
		return nil, errStopped
	}
	var startErr error
	if err := p.spawner.do(func() { startErr = cmd.Start() }); err != nil {
		startErr = err
	}
	if startErr != nil {
		r.Close()
		return nil, fmt.Errorf("starting %s: %w", p.spec.name, startErr)
	}
	inst := &instance{
		name:    p.spec.name,
		pid:     cmd.Process.Pid,
		tag:     tag,
		started: time.Now(),
		exited:  make(chan struct{}),
		logDone: make(chan struct{}),
		out:     r,
	}
	inst.key = pidKey{pid: inst.pid}
	if st, err := readProcStat(inst.pid); err == nil {
		inst.key = st.key()
	}
	go inst.readOutput(p.log, p.spec.level)
	go func() {
		inst.waitErr = cmd.Wait()
		close(inst.exited)
	}()
	p.cur = inst
	p.log.Info("process started", "proc", p.spec.name, "pid", inst.pid)
	return inst, nil
}

// supervise waits for inst to exit and restarts the child until stopped.
func (p *proc) supervise(inst *instance) {
	defer close(p.loopDone)
	backoff := minBackoff
	for {
		select {
		case <-inst.exited:
		case <-p.stopCh:
			return
		}
		if p.isStopping() {
			return
		}
		// Collect whatever the dead leader left behind (e.g. renderer
		// processes) so the next instance starts clean.
		_ = inst.terminate(p.life, stopGrace)
		if up := time.Since(inst.started); up >= stableAfter {
			backoff = minBackoff
		}
		p.log.Warn("process exited unexpectedly, restarting",
			"proc", p.spec.name, "err", inst.exitError(),
			"uptime", time.Since(inst.started).Round(time.Millisecond), "restart_in", backoff)
		for {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-p.stopCh:
				t.Stop()
				return
			}
			backoff = min(backoff*2, maxBackoff)
			ctx, cancel := context.WithTimeoutCause(p.life, p.spec.timeout,
				fmt.Errorf("timed out after %s", p.spec.timeout))
			next, err := p.startOnce(ctx)
			cancel()
			if err == nil {
				inst = next
				p.log.Info("process restarted", "proc", p.spec.name, "pid", inst.pid)
				break
			}
			if p.isStopping() {
				return
			}
			p.log.Warn("restart failed", "proc", p.spec.name, "err", err, "retry_in", backoff)
		}
	}
}

func (p *proc) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}

// markStopping disables restarts and any further spawn.
func (p *proc) markStopping() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopping {
		p.stopping = true
		close(p.stopCh)
	}
}

// current returns the running instance, if any.
func (p *proc) current() *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// stop disables restarts, terminates the running instance and waits for
// the supervision loop to end.
func (p *proc) stop(ctx context.Context) error {
	p.markStopping()
	var errs []error
	inst := p.current()
	if inst != nil {
		errs = append(errs, inst.terminate(ctx, stopGrace))
	}
	p.mu.Lock()
	supervised := p.supervised
	p.mu.Unlock()
	if supervised {
		<-p.loopDone
	}
	// The loop may have been about to return a restarted instance.
	if last := p.current(); last != nil && last != inst {
		errs = append(errs, last.terminate(ctx, stopGrace))
	}
	return errors.Join(errs...)
}

// markCloseOnExec sets close-on-exec on every descriptor above stderr.
// Go opens its own with it, but the C libraries of this process do not
// always (GStreamer's bus sockets, Xlib and PulseAudio connections), and
// a child would inherit them: an X connection that the browser holds
// open outlives the capture that closed it, with its shared-memory
// images still attached in the server. A descriptor a C thread opens
// between this sweep and the fork can still slip through.
func markCloseOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
