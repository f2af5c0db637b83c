package webrtc

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/capture"
)

// rtpMTU is the largest RTP packet we build, header included; pion uses
// the same size for its own tracks (room for SRTP and header extensions
// inside a 1280-byte IPv6 path MTU).
const rtpMTU = 1200

// source packetises the samples of one capture stream once and hands the
// packets to every subscribed viewer track. It runs on GStreamer's
// streaming thread and never blocks there: each viewer has its own bounded
// queue (see viewerTrack), and the subscriber list is copy-on-write, so the
// hot path takes no lock.
type source struct {
	id        string
	kind      webrtc.RTPCodecType
	stream    Stream
	clockRate uint32
	frame     time.Duration // nominal sample duration, when a sample has none
	epoch     time.Time

	// Streaming-thread state: only write() touches it.
	payloader rtp.Payloader
	seq       uint16
	ts        uint32
	lastPTS   time.Duration
	lastDur   time.Duration
	started   bool

	mu   sync.Mutex // serialises subscriber list changes
	subs atomic.Pointer[[]*subscription]

	// recent is the last keyframe and the frames after it (video only,
	// while anyone watches), so that a viewer can start at once instead of
	// waiting a capture tick and an encode for a keyframe of its own. Held
	// by write while it hands a sample out, so a viewer started from recent
	// gets every later sample exactly once.
	recentMu    sync.Mutex
	recent      []queued
	recentBytes int

	keyPending atomic.Bool // a keyframe request is on its way
	keyWanted  atomic.Bool // another one was asked for meanwhile

	samples   atomic.Uint64
	packets   atomic.Uint64
	bytes     atomic.Uint64
	keyframes atomic.Uint64
	meter     rateMeter
}

func newSource(id string, kind webrtc.RTPCodecType, stream Stream, codec webrtc.RTPCodecCapability, frame time.Duration) (*source, error) {
	pl, err := payloader(codec)
	if err != nil {
		return nil, err
	}
	s := &source{
		id: id, kind: kind, stream: stream, clockRate: codec.ClockRate, frame: frame,
		payloader: pl, epoch: time.Now(), seq: uint16(rand.Uint32()), ts: rand.Uint32(),
	}
	s.subs.Store(&[]*subscription{})
	if stream != nil {
		stream.SetHandler(s.write)
	}
	return s, nil
}

// payloader returns the RTP payloader of a codec.
func payloader(c webrtc.RTPCodecCapability) (rtp.Payloader, error) {
	switch strings.ToLower(c.MimeType) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		return &codecs.VP8Payloader{EnablePictureID: true}, nil
	case strings.ToLower(webrtc.MimeTypeVP9):
		return &codecs.VP9Payloader{}, nil
	case strings.ToLower(webrtc.MimeTypeH264):
		return &codecs.H264Payloader{}, nil
	case strings.ToLower(webrtc.MimeTypeH265):
		return &codecs.H265Payloader{}, nil
	case strings.ToLower(webrtc.MimeTypeAV1):
		return &codecs.AV1Payloader{}, nil
	case strings.ToLower(webrtc.MimeTypeOpus):
		return &codecs.OpusPayloader{}, nil
	case strings.ToLower(webrtc.MimeTypeG722):
		return &codecs.G722Payloader{}, nil
	case strings.ToLower(webrtc.MimeTypePCMU), strings.ToLower(webrtc.MimeTypePCMA):
		return &codecs.G711Payloader{}, nil
	}
	return nil, errUnknownCodec(c.MimeType)
}

// write is the stream's sample handler (GStreamer's streaming thread).
func (s *source) write(smp capture.Sample) {
	ts := s.stamp(smp)
	s.samples.Add(1)
	s.bytes.Add(uint64(len(smp.Data)))
	if !smp.Delta && s.kind == webrtc.RTPCodecTypeVideo {
		s.keyframes.Add(1)
	}
	s.meter.add(time.Now(), len(smp.Data))
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	// Loaded under recentMu: a viewer that startRecent started (it is
	// subscribed by then) must get this sample, which follows recent.
	subs := *s.subs.Load()
	if len(subs) == 0 {
		s.forget()
		return
	}
	if len(smp.Data) == 0 {
		return
	}
	payloads := s.payloader.Payload(rtpMTU-12, smp.Data)
	if len(payloads) == 0 {
		return
	}
	video := s.kind == webrtc.RTPCodecTypeVideo
	pkts := make([]rtp.Packet, len(payloads))
	for i, p := range payloads {
		pkts[i] = rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				Marker:         video && i == len(payloads)-1,
				SequenceNumber: s.seq,
				Timestamp:      ts,
			},
			Payload: p,
		}
		s.seq++
	}
	s.packets.Add(uint64(len(pkts)))
	// Audio has no keyframes: every packet is a place to start.
	key := !video || !smp.Delta
	at := s.now()
	if video {
		s.remember(pkts, key, at, len(smp.Data))
	}
	for _, sub := range subs {
		sub.push(pkts, key, at)
	}
}

// stamp returns the RTP timestamp of a sample: the previous one advanced
// by the distance between presentation times, which keeps the timeline
// monotonic across pipeline restarts (PTS starts over) and gaps.
func (s *source) stamp(smp capture.Sample) uint32 {
	if s.started {
		d := smp.PTS - s.lastPTS
		if d <= 0 || d > 2*time.Second {
			d = s.lastDur
			if d <= 0 {
				d = s.frame
			}
		}
		s.ts += ticks(d, s.clockRate)
	}
	s.started = true
	s.lastPTS, s.lastDur = smp.PTS, smp.Duration
	return s.ts
}

// requestKeyframe asks the encoder for a keyframe without blocking: the
// stream takes its lock to do it, and stopping a pipeline holds that lock
// while it waits for the streaming thread we may be running on. Requests
// made while one is on its way are merged into one more after it, never
// dropped: the stream serves every request with a keyframe made after it.
func (s *source) requestKeyframe() {
	if s.stream == nil || s.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	s.keyWanted.Store(true)
	if !s.keyPending.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			s.keyWanted.Store(false)
			s.stream.RequestKeyframe()
			s.keyPending.Store(false)
			if !s.keyWanted.Load() || !s.keyPending.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func (s *source) add(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.subs.Load()
	next := make([]*subscription, len(old), len(old)+1)
	copy(next, old)
	next = append(next, sub)
	s.subs.Store(&next)
}

func (s *source) remove(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.subs.Load()
	next := make([]*subscription, 0, len(old))
	for _, x := range old {
		if x != sub {
			next = append(next, x)
		}
	}
	s.subs.Store(&next)
	if len(next) == 0 {
		// The pipeline may stop now; what it made before must not start
		// the next viewer.
		s.recentMu.Lock()
		s.forget()
		s.recentMu.Unlock()
	}
}

// Limits of recent: each frame in it is one more the starting viewer's
// decoder must get through before it shows the current picture (a
// browser decodes a 720p VP8 frame in 1–3 ms, a new keyframe takes a
// capture tick and an encode, 20–60 ms), and all of it reaches the viewer
// in one burst.
const (
	maxRecentFrames = 5
	maxRecentBytes  = 512 << 10
	maxRecentAge    = 500 * time.Millisecond
	// maxRecentGap is longer than a running stream goes without a frame
	// (a still screen sends one every 200 ms, late by grab and encode
	// jitter under load): after it the pipeline is restarting (a resize)
	// or stuck, and recent no longer shows the screen.
	maxRecentGap = 300 * time.Millisecond
)

// remember adds a video sample to recent; the caller holds recentMu.
func (s *source) remember(pkts []rtp.Packet, key bool, at int64, size int) {
	if key {
		s.forget()
	} else if len(s.recent) == 0 {
		return // no keyframe to start at
	}
	if len(s.recent) >= maxRecentFrames || s.recentBytes+size > maxRecentBytes {
		s.forget()
		return
	}
	s.recent = append(s.recent, queued{pkts: pkts, at: at, key: key})
	s.recentBytes += size
}

// forget empties recent; the caller holds recentMu. The backing array is
// reused: queues hold copies of its entries, never the slice.
func (s *source) forget() {
	clear(s.recent)
	s.recent, s.recentBytes = s.recent[:0], 0
}

// recentUsable reports whether recent can start a viewer; the caller
// holds recentMu.
func (s *source) recentUsable() bool {
	n := len(s.recent)
	now := s.now()
	return n > 0 && now-s.recent[0].at <= int64(maxRecentAge) && now-s.recent[n-1].at <= int64(maxRecentGap)
}

// recentKeyframe reports whether recent holds a keyframe a viewer can
// start at, and how many frames old it is.
func (s *source) recentKeyframe() (frames int, ok bool) {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	if !s.recentUsable() {
		return 0, false
	}
	return len(s.recent), true
}

// startRecent starts sub's track, which waits for a keyframe of this
// source (sub is its current or pending subscription), at the keyframe in
// recent: it queues the keyframe and the frames after it, and the track
// continues with the next sample. The queued frames' timestamps are moved
// up to one tick apart just before the newest one's, so a receiver
// decodes and shows them as one picture instead of playing the backlog
// out at its original pace behind the live stream. It reports false, and
// changes nothing, when recent has nothing to start at.
func (s *source) startRecent(sub *subscription) bool {
	if s.kind != webrtc.RTPCodecTypeVideo {
		return false
	}
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	t := sub.track
	if t.cur.Load() == sub && !t.waitKey.Load() {
		return true // a keyframe started it meanwhile
	}
	n := len(s.recent)
	// A subscription that has queued frames already (a transport that
	// reconnects) must not get recent again: its frames were sent, and
	// their timestamps would go back.
	if !s.recentUsable() || !t.ready.Load() || sub.retired.Load() ||
		sub.started.Load() || cap(t.queue)-len(t.queue) < n {
		return false
	}
	if t.cur.Load() != sub {
		if !t.promote(sub) {
			return false
		}
		// The track may have been waiting for a keyframe of the old
		// source: recent ends that wait too.
	}
	if !t.startAt(sub) {
		return true // another source took over meanwhile; it starts itself
	}
	sub.started.Store(true)
	now := s.now()
	newest := s.recent[n-1].pkts[0].Timestamp
	for i, q := range s.recent {
		q.sub, q.at = sub, now
		q.shift = newest - uint32(n-1-i) - q.pkts[0].Timestamp
		select {
		case t.queue <- q:
		default:
			// There was room for all of recent, but the track's other
			// subscription (the one promote just replaced, or a pending
			// one's keyframe) pushed meanwhile: restart at a keyframe.
			t.waitKey.Store(true)
			t.needKey.Store(true)
			return true
		}
	}
	return true
}

// subscribers is the number of viewer tracks attached.
func (s *source) subscribers() int { return len(*s.subs.Load()) }

// now is the source's monotonic clock, for the age of queued packets.
func (s *source) now() int64 { return int64(time.Since(s.epoch)) }

// ticks converts a duration to RTP clock ticks, rounded.
func ticks(d time.Duration, clockRate uint32) uint32 {
	return uint32((uint64(d)*uint64(clockRate) + uint64(time.Second)/2) / uint64(time.Second))
}
