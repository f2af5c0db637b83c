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
		"a filled gap lends no age":          {{10, 0, false}, {12, 10, false}, {14, 90, false}, {11, 95, false}, {15, 120, false}, {16, 191, true}},
		"a late duplicate fills nothing":     {{10, 0, false}, {13, 10, false}, {11, 20, false}, {11, 30, false}, {14, 200, true}},
		"forgotten after a loss":             {{10, 0, false}, {12, 10, false}, {13, 111, true}, {11, 115, false}, {14, 300, false}},
		"a wide gap":                         {{10, 0, false}, {200, 10, true}, {150, 20, false}, {201, 111, false}},
		"64 skipped, then all late":          {{0, 0, false}, {65, 10, false}, {1, 20, false}, {64, 30, false}, {66, 111, true}},
		"later than the wait":                {{10, 0, false}, {12, 10, false}, {11, 111, true}, {13, 115, false}},
		"too many gaps":                      {{0, 0, false}, {2, 1, false}, {4, 2, false}, {6, 3, false}, {8, 4, false}, {10, 5, false}, {12, 6, false}, {14, 7, false}, {16, 8, false}, {18, 9, false}, {20, 10, false}, {22, 11, false}, {24, 12, false}, {26, 13, false}, {28, 14, false}, {30, 15, false}, {32, 16, false}, {34, 17, true}},
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
