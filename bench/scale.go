package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/neko-webrtc/neko/test/viewer"
)

// benchScale measures what many viewers cost: the time to the first
// decodable frame when n viewers join at once, whether each one's first
// frame is a keyframe, and neko's CPU and memory with 1 and with n
// viewers. The viewers decode only their first frame (viewer.DecodeFirst):
// n decoders would take the cores the server is measured on.
func benchScale(ctx context.Context, bin, dir string, n int, window time.Duration) ([]row, error) {
	srv, err := startServer(ctx, bin, dir, "scale", dataURL(animatedPage), ours)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	observer, err := join(ctx, srv.URL, "observer", adminPassword)
	if err != nil {
		return nil, err
	}
	defer observer.Close()
	watch := newWatchState(observer)
	if err := watchOnce(ctx, srv, watch, "warmup", func(md *viewer.Media) error {
		return waitAnimating(md, 10, 45*time.Second)
	}); err != nil {
		return nil, fmt.Errorf("warm-up: %w; server log:\n%s", err, srv.logTail(10))
	}

	// One viewer.
	one, err := joinViewers(ctx, srv.URL, "one", 1)
	if err != nil {
		return nil, err
	}
	if _, err := startViewers(ctx, one); err != nil {
		closeViewers(one)
		return nil, err
	}
	cost1, err := measureCost(ctx, srv, window)
	closeViewers(one)
	if err != nil {
		return nil, err
	}
	if err := watch.waitNotWatching(one[0].c.SessionID, 10*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)

	// n viewers log in (a few at a time), then all send signal/request at
	// once to an idle server.
	many, err := joinViewers(ctx, srv.URL, "many", n)
	if err != nil {
		return nil, err
	}
	defer closeViewers(many)
	prof := startProfiling(ctx, srv, "scale-joins", time.Second)
	enc0, encErr := readEncoderTotals(ctx, srv.URL)
	self0, _ := readStat(os.Getpid())
	srv0, _ := sampleTree(srv.Pid())
	cpu0, _ := readMachineCPU()
	t0 := time.Now()
	keys, err := startViewers(ctx, many)
	self1, _ := readStat(os.Getpid())
	srv1, _ := sampleTree(srv.Pid())
	cpu1, _ := readMachineCPU()
	enc1, err1 := readEncoderTotals(ctx, srv.URL)
	encoded := fmt.Sprintf("%.0f; %.0f; %.0f", enc1.frames-enc0.frames, enc1.keyframes-enc0.keyframes, (enc1.bytes-enc0.bytes)/1024)
	if err := errors.Join(encErr, err1); err != nil {
		encoded = "unknown: " + err.Error()
	}
	prof.stop()
	if err != nil {
		return nil, err
	}
	joinSelf := float64(self1.ticks-self0.ticks) / clockTicks() / time.Since(t0).Seconds() * 100
	joinSrv := cpuUsage(srv0, srv1)["server"]
	var decoded, complete, provided, answered, iced, connected, afterDTLS []time.Duration
	for _, v := range many {
		if !v.first.At.IsZero() {
			decoded = append(decoded, v.first.At.Sub(v.md.RequestedAt))
		}
		provided = append(provided, v.md.ProvidedAt.Sub(v.md.RequestedAt))
		// A viewer that never got that far has no time for it (startViewers
		// fails the run if any got no frame).
		for _, p := range []struct {
			at  time.Time
			out *[]time.Duration
		}{{v.md.AnsweredAt(), &answered}, {v.md.ICEConnectedAt(), &iced}, {v.md.ConnectedAt(), &connected}} {
			if !p.at.IsZero() {
				*p.out = append(*p.out, p.at.Sub(v.md.RequestedAt))
			}
		}
		if fv, ok := v.md.FirstVideo(); ok {
			complete = append(complete, fv.Complete.Sub(v.md.RequestedAt))
			afterDTLS = append(afterDTLS, fv.Complete.Sub(v.md.ConnectedAt()))
		}
	}
	costN, err := measureCost(ctx, srv, window)
	if err != nil {
		return nil, err
	}
	// Every viewer must still be receiving: a fan-out that starves some
	// would look cheap.
	starved := 0
	for _, v := range many {
		if v.md.Assembled() < int64(window.Seconds()*10) {
			starved++
		}
	}

	cpuRatio := costN.cpu / max(cost1.cpu, 0.1)
	who := fmt.Sprintf("%d concurrent joins", n)
	starvedNote := ""
	if starved > 0 {
		starvedNote = fmt.Sprintf(" (%d viewers got < 10 fps)", starved)
	}
	return []row{
		ttffRow(fmt.Sprintf("%s to an idle server (%d of them decode)", who, min(n, decodingJoiners)), complete, decoded),
		{"… of which signal/provide arrived; answer made; ICE connected; DTLS done, p50 / p95", fmt.Sprintf("%s; %s; %s; %s", p50p95(provided), p50p95(answered), p50p95(iced), p50p95(connected)), "", ""},
		{"… and from DTLS done to the first decodable frame, p50 / p95", p50p95(afterDTLS), "", ""},
		{"Encoder during the joins: frames; keyframes; KiB", encoded, "", ""},
		{"CPU during the joins: neko; bench process (the viewers); machine busy (of 2 cores)", fmt.Sprintf("%.0f %%; %.0f %%; %.0f %%", joinSrv, joinSelf, cpu1.busySince(cpu0)), "", ""},
		keys.row(who),
		{fmt.Sprintf("neko CPU, 1 → %d viewers (non-decoding; %s window)", n, window), fmt.Sprintf("%.0f %% → %.0f %% (×%.2f)%s", cost1.cpu, costN.cpu, cpuRatio, starvedNote), "", verdict("×1.3 at most", cpuRatio <= 1.3 && starved == 0)},
		{fmt.Sprintf("neko RSS, 1 → %d viewers", n), fmt.Sprintf("%.0f → %.0f MiB", cost1.rssMiB, costN.rssMiB), "", verdict("≤ 150 MiB", costN.rssMiB <= 150)},
		{fmt.Sprintf("Bench process (the %d viewers) CPU in that window", n), fmt.Sprintf("%.0f %% (1 viewer: %.0f %%)", costN.self, cost1.self), "", ""},
	}, nil
}

// machineCPU is the first line of /proc/stat: every core's time, in
// clock ticks.
type machineCPU struct{ busy, total uint64 }

func readMachineCPU() (machineCPU, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	fields := strings.Fields(firstLine(string(data)))
	if len(fields) < 5 || fields[0] != "cpu" {
		return machineCPU{}, errors.New("malformed /proc/stat")
	}
	var c machineCPU
	// user nice system idle iowait irq softirq steal [guest guest_nice]:
	// guest time is already counted in user and nice.
	for i, f := range fields[1:min(len(fields), 9)] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: %w", err)
		}
		c.total += v
		if i != 3 && i != 4 { // idle, iowait
			c.busy += v
		}
	}
	return c, nil
}

// busySince is the share of the machine's CPU time spent busy since a,
// in percent of all its cores.
func (c machineCPU) busySince(a machineCPU) float64 {
	if c.total <= a.total {
		return 0
	}
	return float64(c.busy-a.busy) / float64(c.total-a.total) * 100
}

func p50p95(ds []time.Duration) string {
	s := summarize(ds)
	return ms(s.p50) + " / " + ms(s.p95)
}

// decodingJoiners of the concurrent joiners decode their first frame
// (proof that what arrives decodes); the others only assemble frames.
// Fifty decoders starting at once in the bench process would take the
// cores the server is measured on: real viewers decode on their own
// machines.
const decodingJoiners = 5

// scaleViewer is one viewer of the scaling run.
type scaleViewer struct {
	c     *viewer.Client
	md    *viewer.Media
	first viewer.Frame
}

// joinViewers logs in n sessions and opens their WebSockets, a few at a
// time.
func joinViewers(ctx context.Context, url, prefix string, n int) ([]*scaleViewer, error) {
	vs := make([]*scaleViewer, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := join(ctx, url, fmt.Sprintf("%s-%02d", prefix, i), userPassword)
			if err != nil {
				errs[i] = err
				return
			}
			vs[i] = &scaleViewer{c: c}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeViewers(vs)
		return nil, err
	}
	return vs, nil
}

// startViewers sends every viewer's signal/request at once and waits for
// each one's first decoded frame.
func startViewers(ctx context.Context, vs []*scaleViewer) (keyCheck, error) {
	errs := make([]error, len(vs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			mode := viewer.DecodeNone
			if i < decodingJoiners {
				mode = viewer.DecodeFirst
			}
			md, err := startMediaWith(ctx, v.c, viewer.MediaOptions{Decode: mode})
			if err != nil {
				errs[i] = err
				return
			}
			v.md = md
			if mode == viewer.DecodeNone {
				select {
				case <-md.FirstVideoReady():
				case <-time.After(20 * time.Second):
					errs[i] = fmt.Errorf("viewer %d: no complete video frame within 20s", i)
				}
				return
			}
			if v.first, err = firstFrame(md, 20*time.Second); err != nil {
				errs[i] = fmt.Errorf("viewer %d: %w", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	var keys keyCheck
	for _, v := range vs {
		if v.md != nil {
			keys.add(v.md)
		}
	}
	return keys, errors.Join(errs...)
}

// closeViewers closes every viewer, a few at a time.
func closeViewers(vs []*scaleViewer) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, v := range vs {
		if v == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			leave(v.c, v.md)
		}()
	}
	wg.Wait()
}

// cost is neko's CPU (% of one core) and RSS over a window, and the bench
// process's own CPU (the viewers).
type cost struct {
	cpu, rssMiB, self float64
}

func measureCost(ctx context.Context, srv *server, window time.Duration) (cost, error) {
	// Let the joins' keyframes and negotiation settle first.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return cost{}, ctx.Err()
	}
	before, err := sampleTree(srv.Pid())
	if err != nil {
		return cost{}, err
	}
	self0, _ := readStat(os.Getpid())
	t0 := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return cost{}, ctx.Err()
	}
	after, err := sampleTree(srv.Pid())
	if err != nil {
		return cost{}, err
	}
	self1, _ := readStat(os.Getpid())
	rss, err := statusKiB(srv.Pid(), "VmRSS")
	if err != nil {
		return cost{}, err
	}
	self := float64(self1.ticks-self0.ticks) / clockTicks() / time.Since(t0).Seconds() * 100
	c := cost{cpu: cpuUsage(before, after)["server"], rssMiB: float64(rss) / 1024, self: self}
	logf("cost: neko %.0f %%, RSS %.0f MiB; bench process %.0f %%", c.cpu, c.rssMiB, c.self)
	return c, nil
}
