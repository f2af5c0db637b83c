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
}

// queued is one sample's packets waiting in a viewer's queue. The packets
// are shared by every viewer of the source and never modified.
type queued struct {
	pkts []rtp.Packet
	sub  *subscription
	at   int64 // source clock when the sample arrived
}

// subscription attaches a viewer track to a source; the viewer holds one
// reference on the source's capture stream per subscription.
type subscription struct {
	track   *viewerTrack
	src     *source
	retired atomic.Bool
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

	log   *slog.Logger
	drops atomic.Uint64 // samples dropped
	sent  atomic.Uint64 // packets written

	// Writer goroutine state.
	hdr       rtp.Header
	lastSub   *subscription
	seq       uint16
	tsOff     uint32
	lastTS    uint32
	lastWrite time.Time
	written   bool
}

func newViewerTrack(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, size int) *viewerTrack {
	t := &viewerTrack{
		id: kind.String(), streamID: "stream", kind: kind, codec: codec,
		queue: make(chan queued, size), done: make(chan struct{}), log: slog.New(slog.DiscardHandler),
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
			t.bind(uint32(ctx.SSRC()), uint8(c.PayloadType), ctx.WriteStream())
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
		t.requestKeyframe(true)
	}
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
func (t *viewerTrack) setSource(src *source) (changed bool) {
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
	if cur == nil {
		// Nothing to keep showing: start at the next keyframe of src.
		t.waitKey.Store(true)
		t.cur.Store(sub)
	} else {
		t.pending.Store(sub)
	}
	t.mu.Unlock()

	src.add(sub)
	if drop != nil {
		drop.detach()
	}
	if t.ready.Load() {
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
	if t.waitKey.Load() {
		if !key {
			return
		}
		t.waitKey.Store(false)
	}
	select {
	case t.queue <- queued{pkts: pkts, sub: s, at: at}:
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

// run writes queued packets to the viewer's transport.
func (t *viewerTrack) run() {
	for {
		select {
		case q := <-t.queue:
			if q.sub.retired.Load() {
				continue // the rest of a source we switched away from
			}
			if q.sub.src.now()-q.at > int64(maxQueueDelay) {
				t.stale()
				continue
			}
			for i := range q.pkts {
				t.write(q.sub, &q.pkts[i])
			}
			if len(t.queue) == 0 && t.needKey.CompareAndSwap(true, false) {
				t.requestKeyframe(true)
			}
		case <-t.done:
			return
		}
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
// spacing and continue across a source switch.
func (t *viewerTrack) write(sub *subscription, p *rtp.Packet) {
	b := t.bound.Load()
	if b == nil {
		return
	}
	if !t.written {
		t.seq = uint16(rand.Uint32())
	}
	if sub != t.lastSub {
		if !t.written {
			t.tsOff = rand.Uint32() - p.Timestamp
		} else {
			elapsed := ticks(time.Since(t.lastWrite), t.codec.ClockRate)
			if elapsed == 0 {
				elapsed = 1
			}
			t.tsOff = t.lastTS + elapsed - p.Timestamp
		}
		t.lastSub = sub
	}
	t.hdr = p.Header
	t.hdr.SSRC = b.ssrc
	t.hdr.PayloadType = b.pt
	t.hdr.SequenceNumber = t.seq
	t.hdr.Timestamp = p.Timestamp + t.tsOff
	t.seq++
	t.lastTS = t.hdr.Timestamp
	t.lastWrite = time.Now()
	t.written = true
	if _, err := b.w.WriteRTP(&t.hdr, p.Payload); err == nil {
		t.sent.Add(1)
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
