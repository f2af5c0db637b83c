package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// sink makes the test's allocations escape to the heap.
var sink []byte

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 16 * mib, 400},        // goal = heapMinimum × 4 = the floor
		{1 * mib, 16 * mib, 400},  // would be 1500: capped by heapMinimum
		{4 * mib, 16 * mib, 300},  // 4 + 12
		{6 * mib, 16 * mib, 166},  // 6 + 10
		{8 * mib, 16 * mib, 100},  // doubling reaches the floor
		{40 * mib, 16 * mib, 100}, // above the floor: unchanged
		{1 * mib, 2 * mib, 100},   // a floor under heapMinimum changes nothing
	} {
		if got := percentFor(tc.live, tc.floor, 100); got != tc.want {
			t.Errorf("percentFor(%d MiB, %d MiB) = %d, want %d", tc.live/mib, tc.floor/mib, got, tc.want)
		}
	}
}

// TestFloorFollowsCollections: the tuner re-reads the live heap after
// every collection; while little is live the goal stays at the floor, so
// allocating less than the floor in garbage does not collect, and Stop
// restores the percent.
func TestFloorFollowsCollections(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()
	tu := Start(64 << 20)
	if tu == nil {
		t.Fatal("not started")
	}
	defer tu.Stop()
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for tu.adjusted.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no adjustment after a collection")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if p := tu.Percent(); p <= 100 {
		t.Fatalf("percent %d with a small live heap, want above 100", p)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 16 << 10 { // 16 MiB of garbage in 1 KiB pieces
		sink = make([]byte, 1<<10)
	}
	runtime.ReadMemStats(&after)
	if n := after.NumGC - before.NumGC; n > 1 {
		t.Errorf("%d collections for 16 MiB of garbage under a 64 MiB floor", n)
	}
	tu.Stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("percent %d after Stop, want 100", p)
	}
}

func TestGOGCSetDisables(t *testing.T) {
	t.Setenv("GOGC", "50")
	if tu := Start(16 << 20); tu != nil {
		tu.Stop()
		t.Fatal("started although GOGC is set")
	}
}

// TestCollectorOffDisables: with the collector off (debug.SetGCPercent(-1),
// as GOGC=off would) the tuner does not turn it back on.
func TestCollectorOffDisables(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	if tu := Start(16 << 20); tu != nil {
		tu.Stop()
		t.Fatal("started with the collector off")
	}
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("percent %d, want -1 (off)", p)
	}
}
