package webrtc

import (
	"fmt"
	"time"

	"github.com/neko-webrtc/neko/internal/config"
)

// The quality adaptation of a viewer with "auto" video. Pion's send-side
// estimator (GCC over TWCC feedback) says how much the path carries; the
// adapter compares that with the measured bit rate of the viewer's stream
// and of its neighbours in capture.video.ids, and decides, once per
// webrtc.estimator.read_interval, whether to move:
//
//   - down, when the estimate has stayed below the stream's rate (less
//     diff_threshold) for unstable_duration with congestion seen meanwhile
//     (the estimator lowered its estimate), or for stalled_duration without
//     the estimate making progress, or at once when congestion brings the
//     estimate under half the stream's rate (the path collapsed); at most
//     once per downgrade_backoff;
//   - up, when nothing was congested for stable_duration and a probe
//     succeeded: the viewer's track is padded up to the better stream's
//     peak rate for a moment, and the viewer's feedback shows the packets
//     arrived at that rate without loss (probeMeter). An
//     estimate alone cannot justify an upgrade: while a viewer is held to a
//     small stream, GCC has nothing to measure above that stream's rate (it
//     either stays capped near it or grows blindly). Upgrades wait
//     upgrade_backoff after any switch, doubled after each failed probe or
//     upgrade that did not hold.
type adapter struct {
	cfg config.Estimator
	// probes: padding is available (it is not for passive estimators,
	// which only report).
	probes bool

	lastTick       time.Time
	lastEstimate   int
	underSince     time.Time // estimate below the stream's rate since
	congestedUnder bool      // a decrease happened while under
	progressAt     time.Time // the estimate last grew while under
	stableSince    time.Time // no congestion and not under since
	lastDown       time.Time
	lastUp         time.Time
	upHeld         bool // the last upgrade stayed for stable_duration
	failures       int  // failed probes or upgrades that did not hold
	probeUntil     time.Time
	probeFrom      time.Time
	probeTarget    int
	probeEval      time.Time // padding ended; judge the probe from then
	probeFailed    time.Time
	// settleUntil: congestion signals before it are the switch's own
	// (the old stream draining from the bottleneck, the new one's first
	// keyframe), not the path's.
	settleUntil time.Time
}

// observation is what the adapter looks at, once per tick.
type observation struct {
	now      time.Time
	estimate int // bit/s
	// congestedAt is the last time the estimator saw congestion (see
	// congestedNow).
	congestedAt time.Time
	// cur is the viewer's stream's bit rate now; higher the peak rate of
	// the next better quality (0: never measured), for probes; lower
	// reports whether a lower quality exists, higher > 0 or higherExists
	// whether a better one does.
	cur, higher   int
	higherExists  bool
	lowerExists   bool
	currentSwitch bool // the viewer's quality changed outside the adapter
	// probe tells what the viewer's feedback says of the running probe's
	// packets sent since a time (nil: nothing known).
	probe func(since time.Time) probeWindow
}

type action int

const (
	actNone action = iota
	actDown
	actUp
	actProbe     // start padding up to target
	actStopProbe // stop padding, stay
	actEndProbe  // stop padding; the verdict comes once feedback is in
)

// Probe verdicts: a probe passes when the viewer's feedback reported at
// least minProbeReports of its packets, at most probeMaxLoss of them lost,
// and their arrival rate reached its target less diff_threshold. Losing
// probeAbortLoss ends it early: the path is full.
const (
	minProbeReports = 20
	probeMaxLoss    = 0.05
	probeAbortLoss  = 0.2
	// probeSaturated: packets arriving slower than this share of the rate
	// they were sent at mean a queue is growing somewhere.
	probeSaturated = 0.75
	// probeRecent is the window the running probe is judged on.
	probeRecent = 300 * time.Millisecond
	// probeRampShare of a probe ramps up; the rest holds the target and
	// decides.
	probeRampShare = 0.6
	// probeGrace is how long feedback may take after the padding stops.
	probeGrace = 300 * time.Millisecond
	// probeCheck is how often a running probe is looked at.
	probeCheck = 100 * time.Millisecond
)

// decision is the adapter's verdict for one tick.
type decision struct {
	act    action
	target int // bit/s to pad up to (actProbe)
	// from and ramp: the padding starts at from and reaches target after
	// ramp (actProbe).
	from   int
	ramp   time.Duration
	cut    bool // actDown: stop the old quality at once
	reason string
}

// collapseRatio: congestion with the estimate below this share of the
// stream's rate moves the viewer down at once, whatever unstable_duration
// says.
const collapseRatio = 0.5

// collapseFall: a collapse is also an estimate that fell by 10 % or more
// since the last read (a start-up estimate still ramping up to the
// stream's rate is low but does not fall).
const collapseFall = 0.9

// unknownStep is how much better the next quality is assumed to be when
// it has never run (quality ladders usually step 2-3x in bit rate).
const unknownStep = 3

// maxBackoffShift caps the doubling of the upgrade back-off (4x): a path
// that was limited for long must still be found free again soon after.
const maxBackoffShift = 2

func newAdapter(cfg config.Estimator, probes bool) *adapter {
	return &adapter{cfg: cfg, probes: probes}
}

func (a *adapter) probing() bool { return !a.probeUntil.IsZero() }

// resetTimers forgets the stream-relative state (after a switch).
func (a *adapter) resetTimers(now time.Time) {
	a.underSince, a.congestedUnder = time.Time{}, false
	a.stableSince = now
	a.probeUntil, a.probeFrom, a.probeEval, a.probeTarget = time.Time{}, time.Time{}, time.Time{}, 0
}

// switched starts over after the viewer's quality changed.
func (a *adapter) switched(now time.Time) {
	a.resetTimers(now)
	a.settleUntil = now.Add(max(settleTime, 2*a.cfg.ReadInterval))
}

// settleTime is how long a switch's own congestion signals are ignored.
const settleTime = time.Second

func (a *adapter) upgradeBackoff() time.Duration {
	shift := min(a.failures, maxBackoffShift)
	return a.cfg.UpgradeBackoff << shift
}

// tick decides for one observation. The caller applies actDown/actUp and
// then calls switched.
func (a *adapter) tick(o observation) decision {
	now := o.now
	if a.lastTick.IsZero() {
		a.lastTick, a.stableSince, a.lastEstimate = now, now, o.estimate
	}
	congested := !o.congestedAt.IsZero() && o.congestedAt.After(a.lastTick) && !o.congestedAt.Before(a.settleUntil)
	grew := o.estimate > a.lastEstimate
	fell := float64(o.estimate) < float64(a.lastEstimate)*collapseFall
	a.lastTick, a.lastEstimate = now, o.estimate
	if o.currentSwitch {
		a.switched(now)
	}
	if o.cur <= 0 {
		// Nothing measured yet (the stream just started): no basis.
		a.resetTimers(now)
		return decision{}
	}
	diff := a.cfg.DiffThreshold

	// A probe in progress: heavy loss ends it; once its feedback is in,
	// the rate its packets arrived at decides.
	if a.probing() {
		fail := func(reason string) decision {
			a.failures++
			a.probeFailed = now
			a.resetTimers(now)
			return decision{act: actStopProbe, reason: reason}
		}
		if a.probeEval.IsZero() {
			// GCC's own congestion signal is not used here: padding's
			// bursts of small packets make its delay detector report
			// overuse on free paths (measured: most probes on a free
			// veth failed), and on a full one its history misses them.
			if o.probe != nil {
				w := o.probe(now.Add(-probeRecent))
				if w.reported >= minProbeReports && w.loss >= probeAbortLoss {
					return fail(fmt.Sprintf("probe: the path drops packets (%.0f %%)", w.loss*100))
				}
				if w.reported >= minProbeReports && w.recvRate > 0 && float64(w.recvRate) < float64(w.sendRate)*probeSaturated {
					return fail(fmt.Sprintf("probe: the path is saturated (sent at %d bit/s, arrived at %d)", w.sendRate, w.recvRate))
				}
			}
			if now.Before(a.probeUntil) {
				return decision{}
			}
			a.probeEval = now.Add(probeGrace)
			return decision{act: actEndProbe}
		}
		if now.Before(a.probeEval) {
			return decision{}
		}
		var w probeWindow
		if o.probe != nil {
			hold := a.probeFrom.Add(time.Duration(float64(a.probeUntil.Sub(a.probeFrom)) * probeRampShare))
			w = o.probe(hold)
		}
		switch {
		case w.reported < minProbeReports:
			return fail("probe: too little feedback")
		case w.loss > probeMaxLoss:
			return fail(fmt.Sprintf("probe: the path drops packets (%.0f %%)", w.loss*100))
		case float64(w.recvRate) < float64(a.probeTarget)*(1-diff):
			return fail(fmt.Sprintf("probe: the path delivers %d bit/s, the better quality needs %d", w.recvRate, a.probeTarget))
		}
		a.switched(now)
		a.lastUp, a.upHeld = now, false
		return decision{act: actUp, reason: fmt.Sprintf("probe passed (%d bit/s arrived, %.0f %% lost)", w.recvRate, w.loss*100)}
	}

	under := float64(o.estimate) < float64(o.cur)*(1-diff)
	if under {
		if a.underSince.IsZero() {
			a.underSince, a.progressAt, a.congestedUnder = now, now, false
		}
		if congested {
			a.congestedUnder = true
		}
		if grew {
			a.progressAt = now
		}
	} else {
		a.underSince, a.congestedUnder = time.Time{}, false
	}
	if under || congested {
		a.stableSince = time.Time{}
	} else if a.stableSince.IsZero() {
		a.stableSince = now
	}

	// An upgrade that held for stable_duration clears the back-off.
	if !a.upHeld && !a.lastUp.IsZero() && a.lastDown.Before(a.lastUp) && now.Sub(a.lastUp) >= a.cfg.StableDuration {
		a.upHeld, a.failures = true, 0
	}

	if under && o.lowerExists && (a.lastDown.IsZero() || now.Sub(a.lastDown) >= a.cfg.DowngradeBackoff) {
		reason, cut := "", false
		switch {
		case congested && fell && float64(o.estimate) < float64(o.cur)*collapseRatio:
			// The path collapsed (a link much smaller than the stream):
			// waiting would only show a broken picture for longer.
			reason, cut = "collapsed: the path carries less than half the stream", true
		case a.congestedUnder && now.Sub(a.underSince) >= a.cfg.UnstableDuration:
			reason = "unstable: congested below the stream's rate"
		case now.Sub(a.progressAt) >= a.cfg.StalledDuration:
			reason = "stalled below the stream's rate"
		}
		if reason != "" {
			if !a.lastUp.IsZero() && !a.upHeld {
				a.failures++ // the last upgrade did not hold
				a.upHeld = true
			}
			a.switched(now)
			a.lastDown = now
			return decision{act: actDown, reason: reason, cut: cut}
		}
	}

	if !o.higherExists || a.stableSince.IsZero() || now.Sub(a.stableSince) < a.cfg.StableDuration {
		return decision{}
	}
	last := a.lastDown
	for _, t := range []time.Time{a.lastUp, a.probeFailed} {
		if t.After(last) {
			last = t
		}
	}
	if !last.IsZero() && now.Sub(last) < a.upgradeBackoff() {
		return decision{}
	}
	if !a.probes {
		// Passive: report what would happen, never pad.
		a.switched(now)
		return decision{act: actUp, reason: "stable"}
	}
	target := o.higher
	if target <= 0 {
		target = o.cur * unknownStep
	}
	target = int(float64(target) * (1 + diff))
	a.probeFrom, a.probeTarget = now, target
	dur := probeDuration(a.cfg.ReadInterval)
	a.probeUntil = now.Add(dur)
	return decision{act: actProbe, target: target, from: o.cur,
		ramp: time.Duration(float64(dur) * probeRampShare), reason: "stable; probing"}
}

// probeDuration is how long a probe pads: long enough for several rounds
// of feedback (and for a queue at the bottleneck to build up), short
// enough not to hurt when it fails.
func probeDuration(readInterval time.Duration) time.Duration {
	return min(max(readInterval, time.Second), 3*time.Second)
}

func (a action) String() string {
	switch a {
	case actDown:
		return "down"
	case actUp:
		return "up"
	case actProbe:
		return "probe"
	case actStopProbe:
		return "stop-probe"
	case actEndProbe:
		return "end-probe"
	}
	return "none"
}
