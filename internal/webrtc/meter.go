package webrtc

import (
	"math"
	"sync/atomic"
	"time"
)

// rateMeter measures a stream's bit rate and frame rate in one-second
// windows. add runs on the streaming thread only; the readers are
// anywhere.
type rateMeter struct {
	start   time.Time
	last    time.Time
	bytes   int
	samples int

	rate atomic.Uint64 // bit/s, smoothed
	peak atomic.Uint64 // bit/s, highest window, slowly forgotten
	fps  atomic.Uint64 // math.Float64bits of samples/s, last window
}

// meterWindow is the measuring window; meterWeight the weight of a new
// window in the smoothed rate.
const (
	meterWindow = time.Second
	meterWeight = 0.4
	// peakDecay forgets a peak by half in about a minute: a quality's
	// peak is what a probe must make room for, but content changes.
	peakDecay = 0.989
)

func (m *rateMeter) add(now time.Time, n int) {
	if m.start.IsZero() || now.Sub(m.last) > 2*meterWindow {
		// First sample, or the pipeline was stopped: a new window.
		m.start, m.bytes, m.samples = now, 0, 0
	}
	m.last = now
	m.bytes += n
	m.samples++
	el := now.Sub(m.start)
	if el < meterWindow {
		return
	}
	win := float64(m.bytes*8) / el.Seconds()
	rate := win
	if old := float64(m.rate.Load()); old > 0 {
		rate = old + meterWeight*(win-old)
	}
	m.rate.Store(uint64(rate))
	m.peak.Store(uint64(math.Max(win, float64(m.peak.Load())*peakDecay)))
	m.fps.Store(math.Float64bits(float64(m.samples) / el.Seconds()))
	m.start, m.bytes, m.samples = now, 0, 0
}

// Rate, Peak and FPS are the last measures; they stay after the stream
// stops (a stopped quality's rate is what a probe aims at).
func (m *rateMeter) Rate() int    { return int(m.rate.Load()) }
func (m *rateMeter) Peak() int    { return int(m.peak.Load()) }
func (m *rateMeter) FPS() float64 { return math.Float64frombits(m.fps.Load()) }
func (m *rateMeter) restart()     { m.start, m.bytes, m.samples = time.Time{}, 0, 0 }
