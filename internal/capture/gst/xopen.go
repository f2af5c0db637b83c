package gst

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The server's own captures do not use ximagesrc (they are fed by
// capture.Frames, without Xlib); only custom pipelines that name it do,
// and this guard is for them.
//
// ximagesrc holds an X server grab through every frame it captures, and
// while it does, the first frames after a start or a screen size change
// create or free shared-memory images, which takes Xlib's process-wide
// lock. XOpenDisplay holds that same lock while it waits for the server
// to answer, which a grabbed server does not do until the grab ends. So a
// second ximagesrc opening its display (at parse, when its caps are
// first asked) while a first one is in such a frame deadlocks both, and
// with them every later X capture of the process.
//
// Two or more captures running can do the same in any frame (libXext
// caches only the display used last, so alternating displays take the
// lock): that case is not covered here; one ximagesrc teed to every
// quality would be.
//
// xOpen keeps display opens apart from those first frames: a pipeline
// with an ximagesrc takes it before it is parsed and gives it back once
// its first sample is out (or xSettle after it started, or when it
// stops). It is process-wide because the Xlib lock it mirrors is.
var xOpen sync.Mutex

// xLive counts the ximagesrc pipelines parsed and not yet stopped.
var xLive atomic.Int32

// xSettle bounds how long a started pipeline holds xOpen without having
// delivered a sample (one with no appsink, or one that fails); xHoldMax
// how long any hold lasts (a pipeline parsed but never started).
const (
	xSettle  = time.Second
	xHoldMax = 3 * time.Second
)

// usesX reports whether desc captures the X display.
func usesX(desc string) bool { return strings.Contains(desc, "ximagesrc") }

// xHold is a pipeline's hold on xOpen; release is idempotent.
type xHold struct{ once sync.Once }

func holdX(desc string) *xHold {
	if !usesX(desc) {
		return nil
	}
	xOpen.Lock()
	h := &xHold{}
	time.AfterFunc(xHoldMax, h.release)
	return h
}

// settle releases the hold after xSettle at the latest.
func (h *xHold) settle() {
	if h == nil {
		return
	}
	time.AfterFunc(xSettle, h.release)
}

func (h *xHold) release() {
	if h == nil {
		return
	}
	h.once.Do(xOpen.Unlock)
}

// SettleX keeps X displays from being opened while stop runs and for d
// after it: the running X captures' frames meanwhile may take Xlib's
// lock under a server grab (after a screen size change they reallocate
// their images). stop may stop pipelines (their holds are gone by then,
// or end without xOpen: release is a no-op for a hold already ended).
//
// With no ximagesrc left running there is nothing to wait for.
func SettleX(d time.Duration, stop func()) {
	xOpen.Lock()
	defer xOpen.Unlock()
	stop()
	if xLive.Load() > 0 {
		time.Sleep(d)
	}
}
