package gst

import (
	"testing"
	"time"
)

// TestXHold: a pipeline capturing X keeps a second one from opening the
// display until it releases (first sample, stop) or settles; other
// pipelines are not held back.
func TestXHold(t *testing.T) {
	first := holdX("ximagesrc display-name=:99 ! fakesink")
	if first == nil {
		t.Fatal("no hold for an ximagesrc pipeline")
	}
	if h := holdX("audiotestsrc ! fakesink"); h != nil {
		t.Fatal("a pipeline without ximagesrc took the hold")
	}
	got := make(chan *xHold)
	go func() { got <- holdX("ximagesrc ! fakesink") }()
	select {
	case <-got:
		t.Fatal("a second X capture opened while the first held")
	case <-time.After(50 * time.Millisecond):
	}
	first.release()
	first.release() // idempotent: must not unlock twice
	second := <-got
	second.settle() // released by the settle timer, at the latest
	third := make(chan *xHold)
	go func() { third <- holdX("ximagesrc ! fakesink") }()
	select {
	case h := <-third:
		h.release()
	case <-time.After(xSettle + (xHoldMax-xSettle)/2):
		// Before xHoldMax, which would release it anyway.
		t.Fatal("a settled hold was not released after xSettle")
	}
}
