package webrtc

import (
	"sync"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Congestion, as the estimator sees it, is polled every congestionPoll:
// its delay detector reporting overuse (its rate controller then
// decreases) or an average loss of congestionLoss or more. The estimate's
// moves are no signal either way: when a probe fills a link, GCC
// "decreases" to 85 % of what arrives, which can be more than it estimated
// before; and while a viewer is app-limited, GCC caps its estimate at 1.5x
// what arrives, so it dips whenever the stream's rate does.
const (
	congestionPoll = 50 * time.Millisecond
	congestionLoss = 0.05
)

func congestedNow(st map[string]any) bool {
	usage, _ := st["usage"].(string)
	state, _ := st["state"].(string)
	loss, _ := st["averageLoss"].(float64)
	return usage == "overuse" || state == "decrease" || loss >= congestionLoss
}

// adapt runs the peer's quality adaptation until the peer closes: it reads
// the bandwidth estimate every webrtc.estimator.read_interval and, while
// the viewer's video is "auto", follows the adapter's decisions (or, with
// webrtc.estimator.passive, only reports them).
func (p *peer) adapt() {
	cfg := p.m.opts.Config.Estimator
	var (
		mu          sync.Mutex
		congestedAt time.Time
		// poke runs a decision at once on congestion: a collapsed path
		// or a probe that congests it must not wait for the next read.
		poke = make(chan struct{}, 1)
	)
	p.estimate.Store(int64(p.bwe.GetTargetBitrate()))
	go func() {
		t := time.NewTicker(congestionPoll)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
			}
			est := p.bwe.GetTargetBitrate()
			p.estimate.Store(int64(est))
			p.mu.Lock()
			auto := p.auto
			p.mu.Unlock()
			if !auto {
				continue // nothing decides on it
			}
			if congestedNow(p.bwe.GetStats()) {
				mu.Lock()
				congestedAt = time.Now()
				mu.Unlock()
				select {
				case poke <- struct{}{}:
				default:
				}
			}
		}
	}()

	ad := newAdapter(cfg, !cfg.Passive)
	active := false
	lastID := ""
	step := func(now time.Time) {
		est := p.bwe.GetTargetBitrate()
		p.mu.Lock()
		auto, disabled, id, connected := p.auto, p.videoDisabled || p.paused, p.videoID, p.connected
		p.mu.Unlock()
		idx := p.m.videoIndex(id)
		// Without transport-wide feedback (a client that did not
		// negotiate it) there is no estimate to follow.
		b := p.video.bound.Load()
		blind := b != nil && b.twcc == 0
		if !auto || disabled || !connected || idx < 0 || blind {
			if active {
				p.video.stopProbe()
				ad, active, lastID = newAdapter(cfg, !cfg.Passive), false, ""
			}
			return
		}
		active = true
		mu.Lock()
		dec := congestedAt
		mu.Unlock()
		src := p.m.ladder[idx]
		o := observation{
			now: now, estimate: est, congestedAt: dec, cur: src.meter.Rate(),
			lowerExists: idx+1 < len(p.m.ladder), higherExists: idx > 0,
			currentSwitch: id != lastID && lastID != "",
		}
		if idx > 0 {
			o.higher = p.m.ladder[idx-1].meter.Peak()
		}
		if p.probes != nil {
			o.probe = p.probes.window
		}
		lastID = id
		d := ad.tick(o)
		if !ad.probing() && d.act != actProbe {
			// Whatever ended the probe (a verdict, or a switch by the
			// client), the padding ends with it.
			p.video.stopProbe()
		}
		if cfg.Debug {
			st := p.bwe.GetStats()
			p.log.Info("estimator", "estimate", est, "video", id, "video_bitrate", o.cur,
				"higher_peak", o.higher, "action", d.act.String(), "reason", d.reason,
				"usage", st["usage"], "state", st["state"], "loss", st["averageLoss"], "padded", p.video.padded.Load())
		}
		if d.act == actNone {
			return
		}
		if cfg.Passive {
			if d.act == actDown || d.act == actUp {
				p.log.Info("estimator (passive) would switch quality", "estimate", est, "video", id,
					"up", d.act == actUp, "reason", d.reason)
			}
			return
		}
		switch d.act {
		case actProbe:
			p.log.Debug("estimator probing", "video", id, "target", d.target, "estimate", est)
			p.video.startProbe(d.from, d.target, d.ramp)
		case actStopProbe:
			p.log.Debug("estimator probe failed", "video", id, "estimate", est, "reason", d.reason)
		case actEndProbe:
			// Padding ends; the verdict waits for the last feedback.
			p.video.stopProbe()
		case actDown:
			to := p.m.lowerFor(idx, est, cfg.DiffThreshold)
			p.log.Info("estimator lowers video quality", "from", id, "to", to, "estimate", est, "video_bitrate", o.cur, "reason", d.reason)
			if p.switchVideo(id, to, d.cut) {
				lastID = to
			}
		case actUp:
			to := p.m.ladder[idx-1].id
			p.log.Info("estimator raises video quality", "from", id, "to", to, "estimate", est, "reason", d.reason)
			if p.switchVideo(id, to, false) {
				lastID = to
			}
		}
	}

	timer := time.NewTimer(cfg.ReadInterval)
	defer timer.Stop()
	defer p.video.stopProbe()
	for {
		var now time.Time
		select {
		case <-p.done:
			return
		case now = <-timer.C:
		case <-poke:
			now = time.Now()
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		step(now)
		// A running probe is watched closely: on a full path it must
		// end before the viewer's picture suffers.
		if ad.probing() {
			timer.Reset(min(cfg.ReadInterval, probeCheck))
		} else {
			timer.Reset(cfg.ReadInterval)
		}
	}
}

// switchVideo moves an auto viewer from quality from to quality to and
// tells the client with signal/video; false if the viewer changed its
// video meanwhile.
func (p *peer) switchVideo(from, to string, cut bool) bool {
	p.videoMu.Lock()
	p.mu.Lock()
	ok := p.auto && !p.videoDisabled && !p.closed && p.videoID == from
	p.mu.Unlock()
	if ok {
		if err := p.applyVideoCut(to, false, cut); err != nil {
			p.log.Warn("estimator could not switch quality", "to", to, "err", err)
			ok = false
		} else {
			p.mu.Lock()
			p.videoID = to
			p.mu.Unlock()
		}
	}
	if ok {
		// Under videoMu: a client's request racing with the switch must
		// not have its answer overtaken by an older state.
		p.session.Send(types.EventSignalVideo, p.videoState())
	}
	p.videoMu.Unlock()
	if ok {
		if cut {
			// The new quality's first keyframe may have been lost behind
			// the old one's backlog at the bottleneck: one more once
			// that has drained.
			time.AfterFunc(cutKeyframeDelay, func() { p.video.requestKeyframe(true) })
		}
	}
	return ok
}

// cutKeyframeDelay is how long after a cut the new quality sends another
// keyframe: about the queue a congested home link holds.
const cutKeyframeDelay = 300 * time.Millisecond

// videoIndex is the position of a quality in the ladder (the order of
// capture.video.ids), or -1.
func (m *Manager) videoIndex(id string) int {
	for i, s := range m.ladder {
		if s.id == id {
			return i
		}
	}
	return -1
}

// lowerFor picks the quality to move down to from the one at idx: the best
// lower one whose measured rate fits the estimate (with the margin), the
// next lower one if its rate is unknown, the lowest if none fits.
func (m *Manager) lowerFor(idx, estimate int, diff float64) string {
	for j := idx + 1; j < len(m.ladder); j++ {
		r := m.ladder[j].meter.Rate()
		if r == 0 || float64(r) <= float64(estimate)*(1-diff) {
			return m.ladder[j].id
		}
	}
	return m.ladder[len(m.ladder)-1].id
}
