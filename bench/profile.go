package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// profiling records CPU profiles of neko (through its /debug/pprof, which
// -profile turns on) and of the bench process over one stretch of a run,
// so that "where does the time go" has an answer beside the figure.
type profiling struct {
	name    string
	self    *os.File
	srvDone chan error
}

// startProfiling starts both profiles for at most d; stop ends the bench
// process's one and waits for neko's. Without -profile it does nothing.
func startProfiling(ctx context.Context, srv *server, name string, d time.Duration) *profiling {
	if profileDir == "" {
		return nil
	}
	p := &profiling{name: name, srvDone: make(chan error, 1)}
	if err := os.MkdirAll(profileDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "bench: profile: %v\n", err)
		return nil
	}
	go func() { p.srvDone <- fetchProfile(ctx, srv.URL, d, filepath.Join(profileDir, name+"-neko.pprof")) }()
	f, err := os.Create(filepath.Join(profileDir, name+"-bench.pprof"))
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		} else {
			p.self = f
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: profile of the bench process: %v\n", err)
	}
	return p
}

func (p *profiling) stop() {
	if p == nil {
		return
	}
	if p.self != nil {
		pprof.StopCPUProfile()
		p.self.Close()
	}
	if err := <-p.srvDone; err != nil {
		fmt.Fprintf(os.Stderr, "bench: profile of neko: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "bench: profiles written: %s\n", filepath.Join(profileDir, p.name+"-{neko,bench}.pprof"))
}

// fetchProfile saves neko's CPU profile over the next d.
func fetchProfile(ctx context.Context, base string, d time.Duration, path string) error {
	u := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(base, "/"), max(1, int(d.Round(time.Second)/time.Second)))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// encoderTotals are neko's video encoder counters (every quality summed),
// from /metrics.
type encoderTotals struct{ frames, keyframes, bytes float64 }

func readEncoderTotals(ctx context.Context, base string) (encoderTotals, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return encoderTotals{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return encoderTotals{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return encoderTotals{}, fmt.Errorf("/metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return encoderTotals{}, err
	}
	var t encoderTotals
	for _, line := range strings.Split(string(body), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		_, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "neko_video_frames_total":
			t.frames += v
		case "neko_video_keyframes_total":
			t.keyframes += v
		case "neko_video_bytes_total":
			t.bytes += v
		}
	}
	return t, nil
}
