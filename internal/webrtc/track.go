package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Queue sizes per viewer, in samples (a video frame is one entry however
// many packets it has): about two seconds of each.
const (
	videoQueue = 64
	audioQueue = 200
	// maxQueueDelay bounds the latency a slow viewer can build up: older
	// packets are thrown away and the viewer restarts at a keyframe.
	maxQueueDelay = 500 * time.Millisecond
	// keyRequestInterval limits the keyframes one struggling viewer asks
	// for (each costs every viewer of that stream bandwidth).
	keyRequestInterval = 500 * time.Millisecond
)

// rtpWriter is where a bound track writes (pion's TrackLocalWriter).
type rtpWriter interface {
	WriteRTP(header *rtp.Header, payload []byte) (int, error)
}

type binding struct {
	ssrc uint32
	pt   uint8
	w    rtpWriter
	// twcc is the transport-wide sequence number extension's id (0: not
	// negotiated), to find the numbers of probed packets.
	twcc uint8
}

// queued is one sample's packets waiting in a viewer's queue. The packets
// are shared by every viewer of the source and never modified.
type queued struct {
	pkts []rtp.Packet
	sub  *subscription
	at   int64 // source clock when the sample arrived
	key  bool  // a keyframe (every audio sample is one)
	// shift is added to the packets' source timestamps (see startRecent).
	shift uint32
}

// subscription attaches a viewer track to a source; the viewer holds one
// reference on the source's capture stream per subscription.
type subscription struct {
	track   *viewerTrack
	src     *source
	retired atomic.Bool
	started atomic.Bool // has queued frames for the track
}

// viewerTrack is one viewer's outgoing track: a pion TrackLocal of its own,
// fed from a bounded queue by a goroutine of its own, so a viewer whose
// network or socket stalls only ever delays itself. Which source feeds it
// can change at any time (quality switch) without renegotiation: sequence
// numbers and timestamps are rewritten to stay continuous.
type viewerTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecCapability

	queue chan queued
	done  chan struct{}

	bound atomic.Pointer[binding]
	// cur feeds the track; a quality switch subscribes to the new source
	// as pending and swaps at its first keyframe.
	cur     atomic.Pointer[subscription]
	ready   atomic.Bool // transport up: packets written before are lost
	waitKey atomic.Bool // dropping until the next keyframe
	needKey atomic.Bool // ask for one once the queue has drained
	lastKey atomic.Int64

	pending atomic.Pointer[subscription] // changed under mu

	mu     sync.Mutex // control plane: changes of cur and pending, closed
	closed bool

	log    *slog.Logger
	drops  atomic.Uint64 // samples dropped
	sent   atomic.Uint64 // packets written
	padded atomic.Uint64 // padding packets written (probes)
	resent atomic.Uint64 // packets sent again on a NACK

	// probe is the rate (media included) the writer pads the track up to
	// while the bandwidth estimator tests a better quality; nil: off.
	probe     atomic.Pointer[probePlan]
	probeKick chan struct{}
	// meter, if set, records the packets sent while probing.
	meter *probeMeter
	// history is what a retransmission request can be served from; see
	// resend.
	history sentHistory

	// Writer goroutine state.
	hdr       rtp.Header
	lastSub   *subscription
	seq       uint16
	tsOff     uint32
	lastTS    uint32
	lastWrite time.Time
	written   bool
	marker    bool  // the last packet written ended a frame
	credit    int64 // padding bytes the probe may still send
}

func newViewerTrack(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, size int) *viewerTrack {
	t := &viewerTrack{
		id: kind.String(), streamID: "stream", kind: kind, codec: codec,
		queue: make(chan queued, size), done: make(chan struct{}), log: slog.New(slog.DiscardHandler),
		probeKick: make(chan struct{}, 1),
	}
	t.waitKey.Store(true)
	go t.run()
	return t
}

var _ webrtc.TrackLocal = (*viewerTrack)(nil)

func (t *viewerTrack) ID() string                { return t.id }
func (t *viewerTrack) RID() string               { return "" }
func (t *viewerTrack) StreamID() string          { return t.streamID }
func (t *viewerTrack) Kind() webrtc.RTPCodecType { return t.kind }

var errNoCodec = errors.New("webrtc: the viewer accepts none of our codecs")

func errUnknownCodec(mime string) error { return fmt.Errorf("webrtc: no RTP payloader for %q", mime) }

// Bind is called by pion when the track is negotiated on a sender.
func (t *viewerTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.codec.MimeType) {
			var twcc uint8
			for _, e := range ctx.HeaderExtensions() {
				if e.URI == sdp.TransportCCURI {
					twcc = uint8(e.ID)
				}
			}
			t.bound.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream(), twcc: twcc})
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, errNoCodec
}

// Unbind is called by pion when the sender stops.
func (t *viewerTrack) Unbind(webrtc.TrackLocalContext) error {
	t.bound.Store(nil)
	return nil
}

func (t *viewerTrack) bind(ssrc uint32, pt uint8, w rtpWriter) {
	t.bound.Store(&binding{ssrc: ssrc, pt: pt, w: w})
}

// setReady starts (or stops) accepting packets: before the transport is
// up they would be lost, so a viewer starts at a keyframe after it.
func (t *viewerTrack) setReady(ready bool) {
	if ready {
		t.waitKey.Store(true)
	}
	t.ready.Store(ready)
	if ready {
		t.start()
	}
}

// start begins a ready track that waits for a keyframe: at its source's
// recent keyframe when there is one, otherwise at a new one it asks for.
func (t *viewerTrack) start() {
	if s := t.cur.Load(); s != nil && s.src.startRecent(s) {
		t.lastKey.Store(time.Now().UnixNano())
		if p := t.pending.Load(); p != nil && !p.src.startRecent(p) {
			p.src.requestKeyframe()
		}
		return
	}
	t.requestKeyframe(true)
}

// requestKeyframe asks the current (and pending) source for a keyframe;
// unless forced, at most once per keyRequestInterval per viewer.
func (t *viewerTrack) requestKeyframe(force bool) {
	now := time.Now().UnixNano()
	if force {
		t.lastKey.Store(now)
	} else {
		last := t.lastKey.Load()
		if now-last < int64(keyRequestInterval) || !t.lastKey.CompareAndSwap(last, now) {
			return
		}
	}
	if s := t.cur.Load(); s != nil {
		s.src.requestKeyframe()
	}
	if p := t.pending.Load(); p != nil {
		p.src.requestKeyframe()
	}
}

// source returns the source feeding the track (or about to), if any.
func (t *viewerTrack) source() *source {
	if p := t.pending.Load(); p != nil {
		return p.src
	}
	if s := t.cur.Load(); s != nil {
		return s.src
	}
	return nil
}

// setSource makes src feed the track. The old source keeps feeding it
// until src delivers a keyframe, so a switch shows no gap. The caller has
// acquired src's stream for this track; the track releases it when it
// stops using src (at once, if src already feeds it).
func (t *viewerTrack) setSource(src *source) (changed bool) { return t.switchSource(src, false) }

// cutSource is setSource that stops the old source at once: the viewer
// keeps its last picture until src's keyframe. For a path that cannot
// carry the old source any more, whose packets would only delay the new
// keyframe.
func (t *viewerTrack) cutSource(src *source) (changed bool) { return t.switchSource(src, true) }

func (t *viewerTrack) switchSource(src *source, cut bool) (changed bool) {
	t.mu.Lock()
	cur, pending := t.cur.Load(), t.pending.Load()
	switch {
	case t.closed,
		pending != nil && pending.src == src,
		pending == nil && cur != nil && cur.src == src:
		t.mu.Unlock()
		src.stream.Release()
		return false
	case pending != nil && cur != nil && cur.src == src:
		// Back to what still feeds us: just cancel the switch.
		t.pending.Store(nil)
		pending.retired.Store(true)
		t.mu.Unlock()
		pending.detach()
		src.stream.Release()
		return true
	}
	var drop *subscription
	if pending != nil {
		drop = pending
		drop.retired.Store(true)
		t.pending.Store(nil)
	}
	sub := &subscription{track: t, src: src}
	if cur == nil || cut {
		// Nothing to keep showing: start at the next keyframe of src.
		t.waitKey.Store(true)
		t.cur.Store(sub)
		if cur != nil {
			cur.retired.Store(true)
		}
	} else {
		t.pending.Store(sub)
	}
	t.mu.Unlock()

	src.add(sub)
	if drop != nil {
		drop.detach()
	}
	if cut && cur != nil {
		cur.detach()
	}
	if t.ready.Load() && !src.startRecent(sub) {
		src.requestKeyframe()
	}
	return true
}

// clearSource detaches every source: the track stays negotiated but
// carries nothing (video or audio disabled).
func (t *viewerTrack) clearSource() (changed bool) {
	t.mu.Lock()
	var drop []*subscription
	if p := t.pending.Swap(nil); p != nil {
		drop = append(drop, p)
	}
	if cur := t.cur.Swap(nil); cur != nil {
		drop = append(drop, cur)
	}
	for _, d := range drop {
		d.retired.Store(true)
	}
	t.mu.Unlock()
	for _, d := range drop {
		d.detach()
	}
	return len(drop) > 0
}

// promote makes a pending subscription current; it runs on the streaming
// thread of the new source at its first keyframe.
func (t *viewerTrack) promote(s *subscription) bool {
	t.mu.Lock()
	if t.pending.Load() != s || t.closed {
		t.mu.Unlock()
		return false
	}
	t.pending.Store(nil)
	old := t.cur.Swap(s)
	if old != nil {
		old.retired.Store(true)
	}
	t.mu.Unlock()
	if old != nil {
		// Releasing may stop a pipeline, which must not happen on a
		// streaming thread.
		go old.detach()
	}
	return true
}

// detach removes a retired subscription from its source and releases the
// source's stream.
func (s *subscription) detach() {
	s.src.remove(s)
	s.src.stream.Release()
}

// push queues one sample's packets for the viewer; it runs on the
// source's streaming thread and never blocks.
func (s *subscription) push(pkts []rtp.Packet, key bool, at int64) {
	t := s.track
	if t.cur.Load() != s {
		if !key || s.retired.Load() || !t.promote(s) {
			return
		}
	}
	if !t.ready.Load() {
		return
	}
	if t.waitKey.Load() && (!key || !t.startAt(s)) {
		return
	}
	select {
	case t.queue <- queued{pkts: pkts, sub: s, at: at, key: key}:
		if !s.started.Load() {
			s.started.Store(true)
		}
	default:
		// The viewer is too slow: drop until the next keyframe rather
		// than delay anyone. The keyframe is asked for once its queue
		// has drained: while its transport is stuck, one would be wasted
		// (and cost every other viewer of the stream bandwidth).
		t.waitKey.Store(true)
		if !t.needKey.Swap(true) {
			t.log.Debug("viewer queue full; dropping until a keyframe", "kind", t.kind.String())
		}
		t.drops.Add(1)
	}
}

// startAt ends the wait for a keyframe at s's keyframe, unless s no
// longer feeds the track. The check and the clearing are one step under
// mu (where cur changes): a source cut away from between push's first
// check and here must not end the wait meant for the new source's
// keyframe, which would let the new source's delta frames through first.
// This runs only for a keyframe while waiting, so the streaming thread
// rarely takes mu (promote takes it too).
func (t *viewerTrack) startAt(s *subscription) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur.Load() != s {
		return false
	}
	t.waitKey.Store(false)
	return true
}

// run writes queued packets to the viewer's transport, and padding while
// a probe runs.
func (t *viewerTrack) run() {
	var (
		ticker    *time.Ticker
		tick      <-chan time.Time
		last      time.Time
		skipToKey bool
	)
	stopTicker := func() {
		if ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
	}
	defer stopTicker()
	for {
		select {
		case q := <-t.queue:
			if q.sub.retired.Load() {
				continue // the rest of a source we switched away from
			}
			if q.sub.src.now()-q.at > int64(maxQueueDelay) {
				t.stale()
				skipToKey = true
				continue
			}
			// After stale, only a keyframe may come first: a sample the
			// streaming thread queued while the queue was being thrown
			// away (it had seen no wait yet, or a keyframe ended the
			// wait and was thrown away with the rest) refers to frames
			// the viewer never got.
			if skipToKey && !q.key {
				t.drops.Add(1)
			} else {
				skipToKey = false
				for i := range q.pkts {
					t.write(q.sub, &q.pkts[i], q.shift)
				}
			}
			if len(t.queue) == 0 && t.needKey.CompareAndSwap(true, false) {
				t.requestKeyframe(true)
			}
		case <-t.probeKick:
			if t.probe.Load() != nil && ticker == nil {
				ticker = time.NewTicker(probeTick)
				tick, last, t.credit = ticker.C, time.Now(), 0
			}
		case now := <-tick:
			plan := t.probe.Load()
			if plan == nil {
				stopTicker()
				continue
			}
			t.pad(plan.rate(now), now.Sub(last))
			last = now
		case <-t.done:
			return
		}
	}
}

// Probing: padding-only RTP packets (RFC 3550 5.1; the padding length is
// one byte, so at most 255 bytes each) on the media SSRC with their own
// sequence numbers, sent between frames. Receivers drop them after
// counting them in their transport-wide feedback, which is all the
// estimator needs to see whether the path carries the higher rate.
const (
	probeTick      = 5 * time.Millisecond
	paddingSize    = 255
	paddingPacket  = paddingSize + 12 // with the RTP header
	maxProbeBurst  = 50 * time.Millisecond
	probeDebtLimit = 500 * time.Millisecond
)

// probePlan ramps from `from` to `to` over ramp from start, so that a path
// that cannot carry the target shows a growing queue (and the probe ends)
// before its buffer overflows and the viewer loses media.
type probePlan struct {
	from, to int64
	start    time.Time
	ramp     time.Duration
}

// rate is the plan's rate at now.
func (p *probePlan) rate(now time.Time) int64 {
	el := now.Sub(p.start)
	if el >= p.ramp || p.ramp <= 0 {
		return p.to
	}
	return p.from + (p.to-p.from)*int64(el)/int64(p.ramp)
}

// startProbe pads the track up to rate bit/s until stopProbe, ramping up
// from from over ramp.
func (t *viewerTrack) startProbe(from, rate int, ramp time.Duration) {
	if t.meter != nil {
		t.meter.begin()
	}
	t.probe.Store(&probePlan{from: int64(min(from, rate)), to: int64(rate), start: time.Now(), ramp: ramp})
	select {
	case t.probeKick <- struct{}{}:
	default:
	}
}

func (t *viewerTrack) stopProbe() {
	t.probe.Store(nil)
	if t.meter != nil {
		t.meter.stop()
	}
}

// probed records a packet just written while a probe runs.
func (t *viewerTrack) probed(b *binding, payload int) {
	if t.meter == nil || b.twcc == 0 || t.probe.Load() == nil {
		return
	}
	var ext rtp.TransportCCExtension
	if err := ext.Unmarshal(t.hdr.GetExtension(b.twcc)); err != nil {
		return
	}
	t.meter.sent(ext.TransportSequence, t.hdr.MarshalSize()+payload+int(t.hdr.PaddingSize))
}

// pad adds the padding the last interval allows (a token bucket filled at
// the probe rate, which media packets also drain).
func (t *viewerTrack) pad(rate int64, dt time.Duration) {
	perSec := rate / 8
	t.credit += perSec * int64(dt) / int64(time.Second)
	if limit := perSec * int64(maxProbeBurst) / int64(time.Second); t.credit > limit {
		t.credit = limit
	}
	b := t.bound.Load()
	if b == nil || !t.written || !t.marker {
		return // only between whole frames of a started stream
	}
	for t.credit >= paddingPacket {
		t.hdr = rtp.Header{Version: 2, Padding: true, PaddingSize: paddingSize,
			SSRC: b.ssrc, PayloadType: b.pt, SequenceNumber: t.seq, Timestamp: t.lastTS}
		t.seq++
		if _, err := b.w.WriteRTP(&t.hdr, nil); err != nil {
			return
		}
		t.probed(b, 0)
		t.padded.Add(1)
		t.credit -= paddingPacket
	}
}

// stale throws the queue away after the viewer fell too far behind.
func (t *viewerTrack) stale() {
	t.waitKey.Store(true)
	n := uint64(1)
	for {
		select {
		case <-t.queue:
			n++
			continue
		default:
		}
		break
	}
	t.drops.Add(n)
	t.needKey.Store(false)
	t.log.Debug("viewer fell behind; dropped its queue", "kind", t.kind.String(), "samples", n)
	t.requestKeyframe(true)
}

// write sends one packet with the viewer's own numbering. Only whole
// samples are ever dropped, and after a drop the viewer resumes at a
// keyframe, so its sequence numbers stay contiguous: a receiver never waits
// for packets that will not come (a browser would NACK them and then ask
// for a keyframe the viewer already gets). Timestamps keep the source's
// spacing (moved by shift) and continue across a source switch.
func (t *viewerTrack) write(sub *subscription, p *rtp.Packet, shift uint32) {
	b := t.bound.Load()
	if b == nil {
		return
	}
	if !t.written {
		t.seq = uint16(rand.Uint32())
	}
	srcTS := p.Timestamp + shift
	if sub != t.lastSub {
		if !t.written {
			t.tsOff = rand.Uint32() - srcTS
		} else {
			elapsed := ticks(time.Since(t.lastWrite), t.codec.ClockRate)
			if elapsed == 0 {
				elapsed = 1
			}
			t.tsOff = t.lastTS + elapsed - srcTS
			// The new source starts at a keyframe: the viewer needs
			// nothing sent before. After a downgrade on a collapsed
			// link, resending it would bury that keyframe.
			t.history.clear()
		}
		t.lastSub = sub
	}
	t.hdr = p.Header
	t.hdr.SSRC = b.ssrc
	t.hdr.PayloadType = b.pt
	t.hdr.SequenceNumber = t.seq
	t.hdr.Timestamp = srcTS + t.tsOff
	t.seq++
	t.lastTS = t.hdr.Timestamp
	t.lastWrite = time.Now()
	t.written = true
	t.marker = p.Marker || t.kind != webrtc.RTPCodecTypeVideo
	if plan := t.probe.Load(); plan != nil {
		// Media counts towards the probe rate; a burst (a keyframe) may
		// leave some debt, not an unbounded one.
		t.credit -= int64(len(p.Payload) + 12)
		if debt := -plan.to / 8 * int64(probeDebtLimit) / int64(time.Second); t.credit < debt {
			t.credit = debt
		}
	}
	if _, err := b.w.WriteRTP(&t.hdr, p.Payload); err == nil {
		t.sent.Add(1)
		t.probed(b, len(p.Payload))
	}
	if t.kind == webrtc.RTPCodecTypeVideo {
		t.history.add(t.hdr.SequenceNumber, t.hdr.Timestamp, p, t.lastWrite)
	}
}

// close stops the writer and detaches the sources.
func (t *viewerTrack) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	t.mu.Unlock()
	// closed is set: no promotion can happen any more.
	t.clearSource()
	// The writer may be stuck in a write to a dead transport: it ends when
	// the peer connection is closed; nobody waits for it.
	close(t.done)
}
