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
	subs := *s.subs.Load()
	s.samples.Add(1)
	s.bytes.Add(uint64(len(smp.Data)))
	if !smp.Delta && s.kind == webrtc.RTPCodecTypeVideo {
		s.keyframes.Add(1)
	}
	s.meter.add(time.Now(), len(smp.Data))
	if len(subs) == 0 || len(smp.Data) == 0 {
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
}

// subscribers is the number of viewer tracks attached.
func (s *source) subscribers() int { return len(*s.subs.Load()) }

// now is the source's monotonic clock, for the age of queued packets.
func (s *source) now() int64 { return int64(time.Since(s.epoch)) }

// ticks converts a duration to RTP clock ticks, rounded.
func ticks(d time.Duration, clockRate uint32) uint32 {
	return uint32((uint64(d)*uint64(clockRate) + uint64(time.Second)/2) / uint64(time.Second))
}
