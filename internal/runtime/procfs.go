package runtime

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// procInfo is what we need from /proc/<pid>/stat.
type procInfo struct {
	pid, ppid, pgid int
	state           byte
	start           uint64 // start time in clock ticks since boot; tells a reused pid apart
}

// pidKey identifies one process over time: a pid plus its start time.
type pidKey struct {
	pid   int
	start uint64
}

func (p procInfo) key() pidKey { return pidKey{pid: p.pid, start: p.start} }

// dead reports whether the process has terminated (zombies count as dead:
// they run no code and hold no resources but their exit status).
func (p procInfo) dead() bool { return p.state == 'Z' || p.state == 'X' || p.state == 'x' }

var errBadStat = errors.New("malformed /proc stat")

func readProcStat(pid int) (procInfo, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, err
	}
	return parseProcStat(pid, b)
}

func parseProcStat(pid int, b []byte) (procInfo, error) {
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses, so split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, errBadStat
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3]; starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, errBadStat
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procInfo{}, errBadStat
	}
	return procInfo{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0], start: start}, nil
}

// listProcs returns every process currently visible in /proc.
func listProcs() []procInfo {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]procInfo, 0, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if p, err := readProcStat(pid); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// processTree returns the live (non-zombie) processes that belong to the
// child led by leader (whose process group id is its pid): members of that
// group, processes whose environment holds tag (a "NAME=value" entry every
// process of the child inherits; this finds daemons that moved to a session
// of their own and were re-parented to init, like Chromium's crashpad
// handler), and every descendant of those. The leader is included even if
// it left the group. The calling process is never included.
func processTree(leader pidKey, tag string) []procInfo {
	pgid := leader.pid
	all := listProcs()
	in := map[int]bool{}
	for _, p := range all {
		if p.pgid == pgid || p.key() == leader || (tag != "" && !p.dead() && hasEnv(p.pid, tag)) {
			in[p.pid] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, p := range all {
			if !in[p.pid] && in[p.ppid] {
				in[p.pid] = true
				changed = true
			}
		}
	}
	self := os.Getpid()
	var out []procInfo
	for _, p := range all {
		if in[p.pid] && p.pid != self && !p.dead() {
			out = append(out, p)
		}
	}
	return out
}

// hasEnv reports whether the environment of process pid has the entry kv.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for len(b) > 0 {
		e := b
		if i := bytes.IndexByte(b, 0); i >= 0 {
			e, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if string(e) == kv {
			return true
		}
	}
	return false
}

// alive reports whether the process k still runs (same pid, same start
// time, not a zombie).
func (k pidKey) alive() bool {
	p, err := readProcStat(k.pid)
	return err == nil && p.start == k.start && !p.dead()
}

// signal sends sig to k unless its pid now belongs to another process.
func (k pidKey) signal(sig syscall.Signal) {
	if k.alive() {
		_ = syscall.Kill(k.pid, sig)
	}
}
