package webrtc

import (
	"testing"
	"time"
)

// TestLossWatch: a gap counts as a loss only once its packets are later
// than lossWait; reordered packets, duplicates and the sequence number's
// wrap are not losses.
func TestLossWatch(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		seq  uint16
		ms   int
		lost bool
	}
	cases := map[string][]step{
		"in order across the wrap":           {{65534, 0, false}, {65535, 10, false}, {0, 20, false}, {1, 30, false}, {1, 200, false}},
		"reordered within the wait":          {{10, 0, false}, {12, 10, false}, {11, 50, false}, {13, 300, false}},
		"duplicate":                          {{10, 0, false}, {10, 5, false}, {11, 300, false}},
		"lost":                               {{10, 0, false}, {13, 10, false}, {14, 60, false}, {15, 111, true}, {16, 400, false}},
		"lost across the wrap":               {{65535, 0, false}, {2, 10, false}, {3, 200, true}},
		"one of two late":                    {{10, 0, false}, {13, 10, false}, {11, 20, false}, {14, 200, true}},
		"a second gap keeps the first's age": {{10, 0, false}, {12, 10, false}, {14, 90, false}, {15, 120, true}},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			var l lossWatch
			for i, s := range steps {
				if got := l.packet(s.seq, at(s.ms)); got != s.lost {
					t.Fatalf("step %d (seq %d at %d ms): lost %v, want %v", i, s.seq, s.ms, got, s.lost)
				}
			}
		})
	}
}
