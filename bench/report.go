package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is one line of the results table: our figure, the same measured
// with the reference's default pipeline (ref, "" when not measured), and
// the target with its verdict.
type row struct {
	metric, ours, ref, target string
}

// verdict appends whether a target was met to its description.
func verdict(target string, met bool) string {
	if met {
		return target + ": ok"
	}
	return target + ": **missed**"
}

// stats are nearest-rank percentiles (with few samples p95 is the max:
// say so rather than interpolate).
type stats struct {
	p50, p95, max time.Duration
}

func summarize(d []time.Duration) stats {
	if len(d) == 0 {
		return stats{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	return stats{p50: rank(0.50), p95: rank(0.95), max: s[len(s)-1]}
}

func (s stats) String() string {
	return fmt.Sprintf("%s / %s / %s", ms(s.p50), ms(s.p95), ms(s.max))
}

// ratio describes ref against ours ("×2.1").
func ratio(ours, ref float64) string {
	if ours <= 0 {
		return ""
	}
	return fmt.Sprintf("×%.2f of ours", ref/ours)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// render formats the results as markdown, with what the numbers were
// measured on: the machine is shared, so its load matters.
func render(rows []row, root string, started time.Time, took time.Duration, loadStart string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# neko benchmark\n\n")
	fmt.Fprintf(&b, "- date: %s (took %s)\n", started.UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	fmt.Fprintf(&b, "- machine: %d × %s, %s\n", runtime.NumCPU(), cpuModel(), memTotal())
	fmt.Fprintf(&b, "- load average (1, 5, 15 min) at start: %s; at end: %s\n", loadStart, loadAvg())
	fmt.Fprintf(&b, "- build: %s, %s\n", gitDescribe(root), runtime.Version())
	fmt.Fprintf(&b, "- desktop: %s and VP8 unless the metric says otherwise; viewers on loopback\n", screenMode)
	fmt.Fprintf(&b, "- reference settings: `%s`\n\n", refPipeline)
	fmt.Fprintf(&b, "| metric | ours | reference settings | target |\n|---|---|---|---|\n")
	for _, r := range rows {
		ref, target := r.ref, r.target
		if ref == "" {
			ref = "—"
		}
		if target == "" {
			target = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.metric, r.ours, ref, target)
	}
	return b.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	kib, err := kibField("/proc/meminfo", "MemTotal")
	if err != nil {
		return "unknown memory"
	}
	return fmt.Sprintf("%.1f GiB RAM", float64(kib)/(1<<20))
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func gitDescribe(root string) string {
	cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown commit"
	}
	return strings.TrimSpace(string(out))
}
