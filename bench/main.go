// Command bench measures the real neko server end to end: input-to-photon
// latency over the data channel and the WebSocket, time to the first
// decodable frame for 1 and for 50 joining viewers, sustained frame rate
// with CPU and memory per screen size and codec, and the server's cost
// with 1 and with 50 viewers; the latency and frame-rate figures are also
// measured with the reference server's default pipeline, in the same run.
// Each benchmark starts its own `neko serve` (with its own Xorg,
// PulseAudio and Chromium showing a scripted page) and drives it with the
// scripted viewer of test/viewer. Run it with `make bench` or
// `go run ./bench`; see bench/README.md.
//
// The exit status is non-zero only when a benchmark could not run; missed
// targets are reported in the table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	bin := flag.String("bin", "", "neko binary to benchmark (default: build ./cmd/neko into a temporary directory)")
	cold := flag.Int("cold", 5, "cold time-to-first-frame runs")
	warm := flag.Int("warm", 5, "warm time-to-first-frame runs")
	fpsWindow := flag.Duration("fps-window", 10*time.Second, "how long to measure the frame rate of each size and codec")
	sizes := flag.String("sizes", "1280x720@30,1920x1080@30", "screen modes of the frame-rate runs, comma-separated")
	codecs := flag.String("codecs", "vp8,vp9,h264", "codecs of the frame-rate runs, comma-separated")
	presses := flag.Int("presses", 30, "measured key presses for the latency, per input path")
	spacing := flag.Duration("spacing", 300*time.Millisecond, "time between key presses")
	viewers := flag.Int("viewers", 50, "viewers of the scaling run")
	scaleWindow := flag.Duration("scale-window", 8*time.Second, "how long to measure the server's cost with 1 and with -viewers viewers")
	noRef := flag.Bool("no-ref", false, "skip the runs with the reference's settings")
	flag.StringVar(&refPipeline, "ref-pipeline", refPipeline, "the reference's default pipeline ({display} is filled in by the server)")
	out := flag.String("out", "", "also write the table here (default: bench/results/latest.md)")
	logs := flag.String("logs", "", "keep the servers' logs in this directory (default: a temporary one, removed)")
	only := flag.String("run", "latency,firstframe,scale,fps", "benchmarks to run, comma-separated: latency, firstframe, scale, fps")
	flag.BoolVar(&verbose, "v", false, "print every sample to stderr")
	flag.BoolVar(&serverDebug, "server-debug", false, "run the servers with debug logging (see -logs)")
	flag.StringVar(&profileDir, "profile", "", "write CPU profiles of neko and of the bench process during the concurrent joins into this directory (the CPU rows of that run are then not comparable)")
	flag.Parse()
	selected := strings.Split(*only, ",")
	for _, id := range selected {
		if !slices.Contains([]string{"latency", "firstframe", "scale", "fps"}, id) {
			fmt.Fprintf(os.Stderr, "bench: unknown benchmark %q in -run\n", id)
			return 2
		}
	}

	// Ctrl+C still stops every server started (deferred Stop calls).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "neko-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	logDir := tmp
	if *logs != "" {
		if err := os.MkdirAll(*logs, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		logDir = *logs
	}

	if *bin == "" {
		if *bin, err = build(ctx, root, tmp); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}

	started := time.Now()
	loadStart := loadAvg()
	type benchmark struct {
		id, name string
		run      func() ([]row, error)
	}
	benches := []benchmark{
		{"latency", "input-to-photon latency", func() ([]row, error) { return benchLatency(ctx, *bin, logDir, *presses, *spacing, !*noRef) }},
		{"firstframe", "time to first frame", func() ([]row, error) { return benchFirstFrame(ctx, *bin, logDir, *cold, *warm) }},
		{"scale", fmt.Sprintf("1 and %d viewers", *viewers), func() ([]row, error) { return benchScale(ctx, *bin, logDir, *viewers, *scaleWindow) }},
		{"fps", "sustained fps", func() ([]row, error) {
			return benchFPS(ctx, *bin, logDir, *fpsWindow, strings.Split(*sizes, ","), strings.Split(*codecs, ","), !*noRef)
		}},
	}
	var rows []row
	failed := false
	for _, b := range benches {
		if !slices.Contains(selected, b.id) {
			continue
		}
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "bench: interrupted")
			return 1
		}
		fmt.Fprintf(os.Stderr, "bench: %s...\n", b.name)
		t0 := time.Now()
		r, err := b.run()
		if err != nil {
			// Go on with the others: a partial table still says something.
			failed = true
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", b.name, err)
			rows = append(rows, row{b.name, "could not run: " + firstLine(err.Error()), "", "**error**"})
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s done in %s\n", b.name, time.Since(t0).Round(100*time.Millisecond))
		rows = append(rows, r...)
	}

	if ctx.Err() != nil {
		// An interrupted run leaves the last complete results in place.
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		return 1
	}
	report := render(rows, root, started, time.Since(started), loadStart)
	fmt.Print(report)
	path := *out
	if path == "" {
		path = filepath.Join(root, "bench", "results", "latest.md")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		err = os.WriteFile(path, []byte(report), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: write results:", err)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// moduleRoot is the directory of go.mod, so the bench runs from anywhere
// inside the repository.
func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the neko module")
	}
	return filepath.Dir(mod), nil
}

// build compiles the server from the working tree, so the numbers belong
// to the code being looked at (not to a stale bin/neko).
func build(ctx context.Context, root, dir string) (string, error) {
	// The server embeds the built web client; without it the build fails
	// with a less helpful message.
	if _, err := os.Stat(filepath.Join(root, "web", "dist", "index.html")); err != nil {
		return "", fmt.Errorf("web/dist is missing: run `make web` (cd web && npm run build) first")
	}
	bin := filepath.Join(dir, "neko")
	fmt.Fprintln(os.Stderr, "bench: building ./cmd/neko...")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/neko")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build neko: %w", err)
	}
	return bin, nil
}

// goTool is the go command: from PATH, else the usual install location
// (the Makefile adds it to PATH; a bare `go run` may not have it).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// Set by flags; read by the benchmarks.
var (
	verbose     bool
	serverDebug bool
	profileDir  string
)

// logf prints progress detail with -v.
func logf(format string, args ...any) {
	if verbose {
		fmt.Fprintf(os.Stderr, "bench:   "+format+"\n", args...)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
