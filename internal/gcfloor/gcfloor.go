// Package gcfloor keeps the Go heap goal from falling below a floor.
//
// With the default GOGC=100 the collector runs whenever the heap doubles.
// An idle server has a live heap of 2–3 MiB, so a burst of work (fifty
// viewers joining at once: pion peers, DTLS handshakes, session events)
// that takes it to 20 MiB runs the collector eight times in 300 ms, about
// a third of a core and several stop-the-world pauses, exactly when the
// handshakes wait for CPU. Raising the goal only while the live heap is
// small costs a few MiB at idle and nothing under load, where the heap is
// above the floor anyway and GOGC=100 applies unchanged.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// heapMinimum is the runtime's smallest heap goal at GOGC=100; it scales
// with the GC percent (runtime.gcController.heapMinimum), so a percent
// above floor/heapMinimum*100 would put the goal above the floor even for
// an empty heap.
const heapMinimum = 4 << 20

// Tuner adjusts the GC percent after every collection.
type Tuner struct {
	floor uint64
	base  int // the GC percent above the floor: the one Start found

	mu      sync.Mutex // adjust and Stop
	stopped bool
	sample  []metrics.Sample

	percent  atomic.Int64 // the last one set
	adjusted atomic.Int64 // collections it has adjusted after
}

// Start keeps the heap goal at about floor bytes or more (the runtime adds
// stacks and globals to the goal; the floor counts the heap only). It does
// nothing, and returns nil, when GOGC is set in the environment (the
// operator chose), when the collector is off or floor is 0. Stop ends it.
func Start(floor uint64) *Tuner {
	if floor == 0 || os.Getenv("GOGC") != "" {
		return nil
	}
	cur := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(cur)
	if cur[0].Value.Kind() != metrics.KindUint64 {
		return nil
	}
	// The runtime's int32 percent, -1 when off, as a uint64.
	base := int(int64(cur[0].Value.Uint64()))
	if base <= 0 {
		return nil
	}
	t := &Tuner{floor: floor, base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.percent.Store(int64(base))
	t.adjust()
	t.arm()
	return t
}

// Stop restores the GC percent Start found.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetGCPercent(t.base)
}

// Percent is the GC percent the tuner last set.
func (t *Tuner) Percent() int { return int(t.percent.Load()) }

// sentinel is an object whose finalizer runs once per collection. It
// holds a pointer so that it is not a tiny allocation (finalizers of those
// may never run).
type sentinel struct {
	t *Tuner
	_ [16]byte
}

// arm makes the next collection call adjust: the sentinel is garbage as
// soon as arm returns, and its finalizer, run after that collection, arms
// the next one.
func (t *Tuner) arm() {
	s := &sentinel{t: t}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.t.adjust() {
			s.t.adjusted.Add(1)
			s.t.arm()
		}
	})
}

// adjust sets the percent that puts the next goal at the floor, or the
// base percent once the live heap is large enough for that to be above it.
// It reports false once the tuner is stopped.
func (t *Tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return true
	}
	p := percentFor(t.sample[0].Value.Uint64(), t.floor, t.base)
	// Small changes are not worth a call (it takes the heap lock).
	if old := int(t.percent.Load()); p == old || (p > t.base && old > t.base && abs(p-old)*10 < old) {
		return true
	}
	t.percent.Store(int64(p))
	debug.SetGCPercent(p)
	return true
}

// percentFor is the GC percent whose goal for a live heap is floor, never
// below base.
func percentFor(live, floor uint64, base int) int {
	limit := floor * 100 / heapMinimum
	if live+live*uint64(base)/100 >= floor || limit <= uint64(base) {
		return base
	}
	if live == 0 || (floor-live)*100/live > limit {
		return int(limit)
	}
	return int((floor - live) * 100 / live)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
