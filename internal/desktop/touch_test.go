package desktop

import (
	"errors"
	"testing"
)

func TestTouchEmulation(t *testing.T) {
	d, display := openTest(t)
	rec := newRecorder(t, display)
	if d.TouchEvents() {
		t.Fatal("touch_events must be false: single touch is emulated")
	}
	if err := d.TouchBegin(7, 100, 120, 255); err != nil {
		t.Fatal(err)
	}
	if err := d.TouchBegin(8, 10, 10, 255); !errors.Is(err, ErrOtherTouch) {
		t.Fatalf("second touch point: %v", err)
	}
	if err := d.TouchUpdate(7, 150, 160, 255); err != nil {
		t.Fatal(err)
	}
	if err := d.TouchEnd(7, 200, 210, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.TouchUpdate(7, 1, 1, 0); !errors.Is(err, ErrOtherTouch) {
		t.Fatalf("update after end: %v", err)
	}
	rec.waitFor("touch as pointer", func(evs []event) bool {
		var press, moved, release bool
		for _, e := range evs {
			switch {
			case e.kind == "buttondown" && e.detail == 1 && e.x == 100 && e.y == 120:
				press = true
			case e.kind == "motion" && e.x == 150 && e.y == 160:
				moved = true
			case e.kind == "buttonup" && e.detail == 1 && e.x == 200 && e.y == 210:
				release = true
			}
		}
		return press && moved && release
	})
}
