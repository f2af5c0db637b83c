package webrtc

import (
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/config"
)

// estCfg are the reference's defaults.
var estCfg = config.Estimator{
	Enabled: true, InitialBitrate: 1_000_000, DiffThreshold: 0.15,
	ReadInterval: 2 * time.Second, StableDuration: 12 * time.Second,
	UnstableDuration: 6 * time.Second, StalledDuration: 24 * time.Second,
	DowngradeBackoff: 10 * time.Second, UpgradeBackoff: 5 * time.Second,
}

// sim drives an adapter tick by tick with a synthetic estimate.
type sim struct {
	t   *testing.T
	a   *adapter
	now time.Time
	// the viewer's stream rate, the better quality's peak, and which
	// neighbours exist
	cur, higher   int
	higherExists  bool
	lowerExists   bool
	congestedAt   time.Time
	estimate      int
	currentSwitch bool
	// what the viewer's feedback says of the running probe
	probeRate     int
	probeSend     int
	probeLoss     float64
	probeReported int
}

func newSim(t *testing.T, probes bool) *sim {
	return &sim{t: t, a: newAdapter(estCfg, probes), now: time.Unix(1000, 0),
		cur: 2_000_000, higherExists: true, lowerExists: true, estimate: 2_500_000}
}

// step advances one read interval; congested makes the estimator lower its
// estimate during it.
func (s *sim) step(congested bool) decision {
	s.now = s.now.Add(estCfg.ReadInterval)
	if congested {
		s.congestedAt = s.now.Add(-time.Millisecond)
	}
	d := s.a.tick(observation{now: s.now, estimate: s.estimate, congestedAt: s.congestedAt,
		cur: s.cur, higher: s.higher, higherExists: s.higherExists, lowerExists: s.lowerExists,
		currentSwitch: s.currentSwitch, probe: func(time.Time) probeWindow {
			send := s.probeSend
			if send == 0 {
				send = s.probeRate
			}
			return probeWindow{sendRate: send, recvRate: s.probeRate, loss: s.probeLoss, reported: s.probeReported}
		}})
	s.currentSwitch = false
	return d
}

// passProbe lets the running probe (to target) pass: the end of the
// padding, then the verdict.
func (s *sim) passProbe(target int) decision {
	s.t.Helper()
	s.probeRate, s.probeLoss, s.probeReported = target, 0, 200
	defer func() { s.probeRate, s.probeLoss, s.probeReported = 0, 0, 0 }()
	if d, _ := s.until(5, false); d.act != actEndProbe {
		s.t.Fatalf("got %v, want the padding to end", d.act)
	}
	d, _ := s.until(5, false)
	return d
}

// failProbe makes the running probe lose half its packets.
func (s *sim) failProbe() decision {
	s.probeRate, s.probeLoss, s.probeReported = 100_000, 0.5, 200
	defer func() { s.probeRate, s.probeLoss, s.probeReported = 0, 0, 0 }()
	return s.step(false)
}

// until steps until the adapter acts (at most n steps) and returns the
// decision and how long it took.
func (s *sim) until(n int, congested bool) (decision, time.Duration) {
	start := s.now
	for i := 0; i < n; i++ {
		if d := s.step(congested); d.act != actNone {
			return d, s.now.Sub(start)
		}
	}
	return decision{}, s.now.Sub(start)
}

func TestAdapterDowngradesWhenCongested(t *testing.T) {
	s := newSim(t, true)
	s.higherExists = false
	s.step(false)
	s.estimate = 1_000_000 // half the stream's rate, and falling
	d, took := s.until(10, true)
	if d.act != actDown {
		t.Fatalf("got %v, want a downgrade", d.act)
	}
	if took < estCfg.UnstableDuration || took > estCfg.UnstableDuration+estCfg.ReadInterval {
		t.Fatalf("downgraded after %v, want unstable_duration %v (+ one read)", took, estCfg.UnstableDuration)
	}
	// Still congested on the lower quality: the next downgrade waits for
	// downgrade_backoff.
	s.cur = 1_500_000
	d, took = s.until(20, true)
	if d.act != actDown || took < estCfg.DowngradeBackoff {
		t.Fatalf("second downgrade %v after %v, want one after at least %v", d.act, took, estCfg.DowngradeBackoff)
	}
}

func TestAdapterKeepsQualityWhileEstimateRamps(t *testing.T) {
	// At the start the estimate is below the stream's rate but grows, and
	// nothing is congested: the estimator has not caught up yet.
	s := newSim(t, true)
	s.higherExists = false
	s.estimate = 1_000_000
	for i := 0; i < 10; i++ {
		s.estimate = s.estimate * 116 / 100 // ~8 %/s
		if d := s.step(false); d.act != actNone {
			t.Fatalf("step %d: %v (%s) while the estimate ramps up", i, d.act, d.reason)
		}
	}
}

func TestAdapterDowngradesWhenStalled(t *testing.T) {
	s := newSim(t, true)
	s.higherExists = false
	s.estimate = 1_200_000 // below, not congested, not moving
	d, took := s.until(20, false)
	if d.act != actDown || took < estCfg.StalledDuration {
		t.Fatalf("got %v after %v, want a downgrade after stalled_duration %v", d.act, took, estCfg.StalledDuration)
	}
}

func TestAdapterProbesBeforeUpgrading(t *testing.T) {
	s := newSim(t, true)
	s.cur, s.higher = 500_000, 2_000_000
	s.estimate = 600_000 // just above the stream: an app-limited estimate
	d, took := s.until(10, false)
	if d.act != actProbe {
		t.Fatalf("got %v, want a probe", d.act)
	}
	if took < estCfg.StableDuration {
		t.Fatalf("probed after %v, want stable_duration %v first", took, estCfg.StableDuration)
	}
	if want := int(2_000_000 * 1.15); d.target != want {
		t.Fatalf("probe target %d, want the better stream's peak with the margin, %d", d.target, want)
	}
	// The path carries it: the verdict after the probe upgrades.
	if d = s.passProbe(d.target); d.act != actUp {
		t.Fatalf("got %v after a clean probe, want an upgrade", d.act)
	}
}

func TestAdapterFailedProbeBacksOff(t *testing.T) {
	s := newSim(t, true)
	s.cur, s.higher = 500_000, 2_000_000
	s.estimate = 600_000
	if d, _ := s.until(10, false); d.act != actProbe {
		t.Fatalf("got %v, want a probe", d.act)
	}
	if d := s.failProbe(); d.act != actStopProbe {
		t.Fatalf("got %v when the probe lost packets, want it stopped", d.act)
	}
	// The next probe waits for stable_duration and twice upgrade_backoff;
	// after another failure, four times.
	d, took := s.until(30, false)
	if d.act != actProbe || took < estCfg.StableDuration {
		t.Fatalf("second probe %v after %v", d.act, took)
	}
	s.failProbe()
	s.a.cfg.StableDuration = time.Second // let the back-off dominate
	d, took = s.until(30, false)
	if d.act != actProbe || took < 4*estCfg.UpgradeBackoff {
		t.Fatalf("third probe %v after %v, want at least %v", d.act, took, 4*estCfg.UpgradeBackoff)
	}
	// The back-off stops growing at 4x: a path limited for long is found
	// free again soon after.
	s.failProbe()
	d, took = s.until(30, false)
	if d.act != actProbe || took > 4*estCfg.UpgradeBackoff+estCfg.ReadInterval {
		t.Fatalf("fourth probe %v after %v, want it within %v", d.act, took, 4*estCfg.UpgradeBackoff+estCfg.ReadInterval)
	}
}

func TestAdapterUnknownBetterQuality(t *testing.T) {
	s := newSim(t, true)
	s.cur, s.higher = 400_000, 0 // the better quality never ran
	s.estimate = 500_000
	d, _ := s.until(10, false)
	if want := int(400_000 * unknownStep * 1.15); d.act != actProbe || d.target != want {
		t.Fatalf("got %v target %d, want a probe to %d", d.act, d.target, want)
	}
}

func TestAdapterPassiveNeverProbes(t *testing.T) {
	s := newSim(t, false)
	s.cur, s.higher = 500_000, 2_000_000
	s.estimate = 600_000
	d, _ := s.until(10, false)
	if d.act != actUp {
		t.Fatalf("passive adapter: got %v, want a reported upgrade without a probe", d.act)
	}
}

func TestAdapterNoMeasurementNoAction(t *testing.T) {
	s := newSim(t, true)
	s.cur = 0
	s.estimate = 10_000
	if d, _ := s.until(20, true); d.act != actNone {
		t.Fatalf("got %v without a measured stream rate", d.act)
	}
}

func TestAdapterUpgradeThatDoesNotHoldBacksOff(t *testing.T) {
	s := newSim(t, true)
	s.cur, s.higher = 500_000, 2_000_000
	s.estimate = 600_000
	d, _ := s.until(10, false) // probe
	if d = s.passProbe(d.target); d.act != actUp {
		t.Fatalf("got %v, want an upgrade", d.act)
	}
	s.currentSwitch = true
	s.cur, s.estimate = 2_000_000, 900_000
	if d, _ := s.until(10, true); d.act != actDown {
		t.Fatalf("got %v, want the upgrade undone", d.act)
	}
	if s.a.failures != 1 {
		t.Fatalf("failures = %d after an upgrade that did not hold, want 1", s.a.failures)
	}
}

func TestAdapterCollapseDowngradesAtOnce(t *testing.T) {
	s := newSim(t, true)
	s.higherExists = false
	s.step(false)
	s.estimate = 800_000 // well under half of the 2 Mbit/s stream
	d := s.step(true)
	if d.act != actDown || !d.cut {
		t.Fatalf("got %+v, want an immediate downgrade that cuts the old quality", d)
	}
}

func TestAdapterProbeVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name           string
		rate, reported int
		loss           float64
		want           action
	}{
		{"clean", 2_300_000, 200, 0, actUp},
		{"slow path", 1_000_000, 200, 0, actStopProbe},
		{"lossy path", 2_300_000, 200, 0.1, actStopProbe},
		{"no feedback", 0, 0, 0, actStopProbe},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, true)
			s.cur, s.higher = 500_000, 2_000_000
			s.estimate = 600_000
			if d, _ := s.until(10, false); d.act != actProbe {
				t.Fatalf("got %v, want a probe", d.act)
			}
			s.probeRate, s.probeLoss, s.probeReported = tc.rate, tc.loss, tc.reported
			if d, _ := s.until(5, false); d.act != actEndProbe {
				t.Fatalf("got %v, want the padding to end", d.act)
			}
			if d, _ := s.until(5, false); d.act != tc.want {
				t.Fatalf("verdict %v (%s), want %v", d.act, d.reason, tc.want)
			}
		})
	}
}

func TestAdapterSaturatedProbeEndsEarly(t *testing.T) {
	s := newSim(t, true)
	s.cur, s.higher = 500_000, 2_000_000
	s.estimate = 600_000
	d, _ := s.until(10, false)
	if d.act != actProbe || d.from != 500_000 || d.ramp <= 0 {
		t.Fatalf("got %+v, want a ramped probe from the stream's rate", d)
	}
	// Sent at 1.8 Mbit/s, arriving at 1: a queue grows at the bottleneck.
	s.probeSend, s.probeRate, s.probeReported = 1_800_000, 1_000_000, 100
	if d := s.step(false); d.act != actStopProbe {
		t.Fatalf("got %v on a saturated path, want the probe stopped at once", d.act)
	}
}
