package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one real `neko serve` process with its own embedded desktop
// (Xorg, PulseAudio, openbox, Chromium). Running it as a separate process,
// not in-process like test/stack, keeps the viewer's decoding out of the
// server's CPU and memory figures read from /proc.
type server struct {
	URL     string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// Fixed credentials, set explicitly so the caller's environment cannot
// change them.
const (
	adminPassword = "admin"
	userPassword  = "neko"
)

// screenMode is the desktop the benchmarks run at unless they say
// otherwise: the brief's reference mode, and the size the pipeline
// settings were tuned for.
const screenMode = "1280x720@30"

// captureFPS is screenMode's rate.
const captureFPS = 30

// refPipeline is the reference server's default video pipeline, as far as
// CPU and latency go: VP8 with cpu-used=4 and 4 threads at 25 fps, CBR at
// 2 Mbit/s, a queue before the encoder, and an appsink that syncs (its
// default). Our server fills in {display}. Set by -ref-pipeline.
var refPipeline = "ximagesrc display-name={display} show-pointer=false use-damage=false ! video/x-raw,framerate=25/1 ! videoconvert ! queue ! " +
	"vp8enc cpu-used=4 threads=4 end-usage=cbr target-bitrate=2000000 deadline=1 ! appsink name=appsink"

// serverOpts choose what a server captures: zero values are screenMode,
// our default VP8 pipeline.
type serverOpts struct {
	screen   string // NEKO_DESKTOP_SCREEN
	codec    string // NEKO_CAPTURE_VIDEO_CODEC
	pipeline string // NEKO_CAPTURE_VIDEO_PIPELINE (a whole pipeline)
}

// ours and reference are the two configurations compared.
var (
	ours      = serverOpts{}
	reference = serverOpts{pipeline: "ref"} // refPipeline, read when used (a flag may change it)
)

func (o serverOpts) isRef() bool { return o.pipeline == "ref" }

// startServer launches bin with page (a data: URL) in its Chromium and
// waits for the "neko is running" banner. dir receives the server's log.
func startServer(ctx context.Context, bin, dir, name, page string, o serverOpts) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("pick a port: %w", err)
	}
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor

	if o.screen == "" {
		o.screen = screenMode
	}
	if o.codec == "" {
		o.codec = "vp8"
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(cleanEnv(),
		"NEKO_SERVER_BIND=127.0.0.1:"+strconv.Itoa(port),
		// Loopback ICE: the viewer runs on the same host.
		"NEKO_WEBRTC_NAT1TO1=127.0.0.1",
		"NEKO_DESKTOP_SCREEN="+o.screen,
		"NEKO_CAPTURE_VIDEO_CODEC="+o.codec,
		"NEKO_RUNTIME_URL="+page,
		"NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD="+adminPassword,
		"NEKO_MEMBER_MULTIUSER_USER_PASSWORD="+userPassword,
	)
	switch {
	case o.isRef():
		cmd.Env = append(cmd.Env, "NEKO_CAPTURE_VIDEO_PIPELINE="+refPipeline)
	case o.pipeline != "":
		cmd.Env = append(cmd.Env, "NEKO_CAPTURE_VIDEO_PIPELINE="+o.pipeline)
	}
	if serverDebug {
		cmd.Env = append(cmd.Env, "NEKO_DEBUG=true")
	}
	if profileDir != "" {
		cmd.Env = append(cmd.Env, "NEKO_SERVER_PPROF=true")
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdout: %w", err)
	}
	// Own process group: if the server ever ignores SIGTERM, the group
	// (only processes this run started) can still be killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, logPath: logPath, exited: make(chan struct{})}

	urls := make(chan string, 1)
	go func() {
		// Keep draining stdout after the banner so the server never
		// blocks on a full pipe.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if u, ok := strings.CutPrefix(line, "neko is running: open "); ok {
				select {
				case urls <- strings.TrimSpace(u):
				default:
				}
			}
		}
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	select {
	case s.URL = <-urls:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("server exited before it was ready (%v); log:\n%s", s.waitErr, s.logTail(15))
	case <-time.After(60 * time.Second):
		s.Stop()
		return nil, fmt.Errorf("server not ready within 60s; log:\n%s", s.logTail(15))
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
}

// Pid is the neko process id.
func (s *server) Pid() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM (neko then stops its desktop) and waits; a server
// that does not stop in time has its process group killed.
func (s *server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(30 * time.Second):
	}
	fmt.Fprintf(os.Stderr, "bench: server %d ignored SIGTERM for 30s, killing its process group\n", s.Pid())
	_ = syscall.Kill(-s.Pid(), syscall.SIGKILL)
	<-s.exited
}

// logTail returns the last n lines of the server's log, for errors.
func (s *server) logTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cleanEnv is the caller's environment without DISPLAY and NEKO_*: the
// server must start its own desktop with exactly the options set here.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DISPLAY=") || strings.HasPrefix(kv, "NEKO_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dataURL turns a page into a URL Chromium opens without any web server.
func dataURL(html string) string {
	return "data:text/html;base64," + base64.StdEncoding.EncodeToString([]byte(html))
}

// --- /proc statistics ---

// procInfo is what one /proc/<pid> read gives.
type procInfo struct {
	comm  string
	ppid  int
	ticks uint64 // utime + stime, in clock ticks
}

// treeSample is the CPU time of a process and all its descendants at one
// instant.
type treeSample struct {
	at    time.Time
	root  int
	procs map[int]procInfo // root and descendants
}

// sampleTree reads every process under root (inclusive). The embedded
// runtime's Xorg, PulseAudio, openbox and Chromium are all descendants of
// the neko process.
func sampleTree(root int) (treeSample, error) {
	at := time.Now()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return treeSample{}, fmt.Errorf("read /proc: %w", err)
	}
	all := map[int]procInfo{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readStat(pid); err == nil {
			all[pid] = p
		}
	}
	if _, ok := all[root]; !ok {
		return treeSample{}, fmt.Errorf("process %d not found", root)
	}
	children := map[int][]int{}
	for pid, p := range all {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	tree := map[int]procInfo{}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		tree[pid] = all[pid]
		queue = append(queue, children[pid]...)
	}
	return treeSample{at: at, root: root, procs: tree}, nil
}

// readStat parses /proc/<pid>/stat. comm may contain spaces and
// parentheses, so the fields are split after its last ')'.
func readStat(pid int) (procInfo, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, err
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procInfo{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procInfo{}, errors.New("short stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return procInfo{comm: s[open+1 : end], ppid: ppid, ticks: ut + st}, nil
}

// group names a process for the CPU breakdown.
func group(comm string) string {
	switch {
	case strings.HasPrefix(comm, "Xorg"):
		return "Xorg"
	case strings.HasPrefix(comm, "chrom"):
		return "Chromium"
	case strings.HasPrefix(comm, "pulseaudio"):
		return "PulseAudio"
	default:
		return "other"
	}
}

// cpuUsage returns, per group, the CPU used between a and b as a
// percentage of one core. The root process is its own group ("server")
// whatever its name. Processes that ended between the samples are missing
// from b and their time is lost; Chromium's processes live for the whole
// run, so this is negligible.
func cpuUsage(a, b treeSample) map[string]float64 {
	hz := clockTicks()
	wall := b.at.Sub(a.at).Seconds()
	out := map[string]float64{}
	for pid, pb := range b.procs {
		d := pb.ticks
		if pa, ok := a.procs[pid]; ok && pa.comm == pb.comm && pa.ticks <= pb.ticks {
			d -= pa.ticks
		}
		g := group(pb.comm)
		if pid == b.root {
			g = "server"
		}
		out[g] += float64(d) / hz / wall * 100
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times. Go has no
// sysconf, so ask getconf; every Linux in practice uses 100.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

// statusKiB reads a "Key:  N kB" line of /proc/<pid>/status (VmRSS).
func statusKiB(pid int, key string) (int64, error) {
	return kibField(fmt.Sprintf("/proc/%d/status", pid), key)
}

// treePSSKiB sums the proportional set size of every process in t: unlike
// summed RSS it counts memory shared between Chromium's processes once.
func treePSSKiB(t treeSample) int64 {
	var sum int64
	for pid := range t.procs {
		if v, err := kibField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss"); err == nil {
			sum += v
		}
	}
	return sum
}

func kibField(path, key string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}
