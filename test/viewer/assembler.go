package viewer

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// assemblerRing is how many packets the assembler can hold: far more than
// the largest keyframe (a 1080p VP8 keyframe is about 100 packets).
const assemblerRing = 1024

// Assembler puts the RTP packets of a video track back together into
// frames. A frame is complete as soon as its last packet (the one with the
// RTP marker bit, which VP8, VP9 and H.264 senders set on the last packet
// of a frame) and every packet before it back to the frame's first have
// arrived: unlike pion's samplebuilder, which releases a frame only when a
// packet of the next frame arrives, it adds no frame interval to the
// delivery of a frame.
//
// Under loss it waits up to maxDelay for a missing packet (a NACK may bring
// it back), then gives it up: the frame it belonged to is dropped, never
// delivered incomplete, and the next frame delivered reports the loss
// (Lost, Dropped) so that the caller can skip frames until a keyframe and
// ask for one. Packets arriving out of order are put back in order.
//
// An Assembler is not safe for concurrent use.
type Assembler struct {
	mime      string
	depack    func() rtp.Depacketizer
	head      func(payload []byte) bool
	maxDelay  time.Duration
	ring      [assemblerRing]slot
	started   bool
	next      int64 // extended sequence number of the first packet not consumed
	highest   int64 // highest extended sequence number received
	boundary  bool  // next directly follows the last packet of a frame
	lost      int   // packets given up since the last frame delivered
	dropped   int   // frames discarded since the last frame delivered
	dropTS    uint32
	dropAny   bool // dropTS is the timestamp of the last frame discarded
	totalLost int64
	totalDrop int64
}

type slot struct {
	valid   bool
	seq     int64
	ts      uint32
	marker  bool
	pad     bool // padding only (a bandwidth probe): in no frame
	payload []byte
	at      time.Time
}

// AssembledFrame is one complete encoded frame.
type AssembledFrame struct {
	Data      []byte // the codec's bitstream (H.264: Annex B)
	Timestamp uint32 // RTP timestamp
	Keyframe  bool   // a keyframe (VP8, VP9, H.264; false for other codecs)
	// FirstAt is when its first packet arrived; CompleteAt when its last
	// missing packet arrived, i.e. when it became decodable.
	FirstAt, CompleteAt time.Time
	Packets             int
	// Lost packets and Dropped frames since the previous frame delivered:
	// when either is non-zero this frame may reference a frame the
	// decoder never saw.
	Lost, Dropped int
	// PictureID is the VP8 picture ID of the frame (-1: none). Without
	// temporal layers each VP8 frame references the one before, so a
	// frame whose ID follows the last decoded one is decodable even if
	// packets between them (padding) were lost, as a browser sees it.
	PictureID int
}

// NewAssembler returns an assembler for a video codec (its mime type, as
// webrtc.MimeTypeVP8). maxDelay is how long a missing packet is waited
// for once later packets have arrived.
func NewAssembler(mime string, maxDelay time.Duration) (*Assembler, error) {
	a := &Assembler{mime: mime, maxDelay: maxDelay}
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		a.depack = func() rtp.Depacketizer { return &codecs.VP8Packet{} }
		a.head = vp8FrameHead
	case strings.ToLower(webrtc.MimeTypeVP9):
		a.depack = func() rtp.Depacketizer { return &codecs.VP9Packet{} }
		a.head = vp9FrameHead
	case strings.ToLower(webrtc.MimeTypeH264):
		a.depack = func() rtp.Depacketizer { return &codecs.H264Packet{} }
		a.head = h264FrameHead
	case strings.ToLower(webrtc.MimeTypeH265):
		a.depack = func() rtp.Depacketizer { return &codecs.H265Depacketizer{} }
		a.head = func([]byte) bool { return false }
	case strings.ToLower(webrtc.MimeTypeAV1):
		a.depack = func() rtp.Depacketizer { return &codecs.AV1Depacketizer{} }
		a.head = func([]byte) bool { return false }
	default:
		return nil, fmt.Errorf("viewer: no assembler for %s", mime)
	}
	return a, nil
}

// vp8FrameHead: the payload descriptor's S bit with partition index 0
// starts a frame (RFC 7741 4.2).
func vp8FrameHead(p []byte) bool { return len(p) > 0 && p[0]&0x10 != 0 && p[0]&0x07 == 0 }

// vp9FrameHead: the B bit (RFC 9628 4.2); no spatial layers here.
func vp9FrameHead(p []byte) bool { return len(p) > 0 && p[0]&0x08 != 0 }

// h264FrameHead tells only that a packet starts a NAL unit (a single NAL,
// an aggregate, or the first fragment): an access unit has several NAL
// units, so for H.264 frame starts come from the timestamp change and the
// previous frame's marker, and this is the last resort after a loss.
func h264FrameHead(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	if t := p[0] & 0x1f; t == 28 || t == 29 {
		return p[1]&0x80 != 0
	}
	return true
}

// Lost is the number of packets given up so far; Dropped the number of
// frames discarded because they were incomplete.
func (a *Assembler) Lost() int64    { return a.totalLost }
func (a *Assembler) Dropped() int64 { return a.totalDrop }

func (a *Assembler) slot(e int64) *slot {
	s := &a.ring[e&(assemblerRing-1)]
	if !s.valid || s.seq != e {
		return nil
	}
	return s
}

// unwrap extends a 16-bit sequence number to the one nearest the highest
// received.
func (a *Assembler) unwrap(seq uint16) int64 {
	return a.highest + int64(int16(seq-uint16(a.highest)))
}

// Push adds a packet that arrived at at. The payload is copied.
func (a *Assembler) Push(p *rtp.Packet, at time.Time) {
	if !a.started {
		a.reset(p.SequenceNumber)
	}
	e := a.unwrap(p.SequenceNumber)
	switch {
	case e < a.next-assemblerRing:
		// Far behind what was consumed: the sender started over.
		a.reset(p.SequenceNumber)
		e = a.next
	case e < a.next:
		return // late: its frame was delivered or given up
	case e >= a.next+assemblerRing:
		// Too far ahead to hold with what is waiting: give up the oldest.
		a.skipTo(e - assemblerRing + 1)
	}
	if a.slot(e) != nil {
		return // duplicate
	}
	a.ring[e&(assemblerRing-1)] = slot{valid: true, seq: e, ts: p.Timestamp, marker: p.Marker,
		pad: p.Padding && len(p.Payload) == 0, payload: append([]byte(nil), p.Payload...), at: at}
	if e > a.highest {
		a.highest = e
	}
}

// reset starts over at seq, as for the first packet: what comes before
// the first frame start seen is not known to be a whole frame.
func (a *Assembler) reset(seq uint16) {
	for i := range a.ring {
		a.ring[i] = slot{}
	}
	// An offset keeps extended numbers positive whatever the first one is.
	a.started, a.next, a.highest, a.boundary = true, 1<<32+int64(seq), 1<<32+int64(seq), false
}

// skipTo gives up every packet before e: missing ones count as lost, the
// frames of received ones as dropped.
func (a *Assembler) skipTo(e int64) {
	for s := a.next; s < e; s++ {
		sl := a.slot(s)
		if sl == nil {
			a.lost++
			a.totalLost++
			continue
		}
		// A frame given up in pieces (before and after a gap) is one.
		if !a.dropAny || sl.ts != a.dropTS {
			a.dropped++
			a.totalDrop++
		}
		a.dropTS, a.dropAny = sl.ts, true
		*sl = slot{}
	}
	a.next = e
	if e > a.highest {
		a.highest = e - 1
	}
	a.boundary = false
}

// Pop returns the next complete frame, or nil when none is ready. now
// decides whether a missing packet has been waited for long enough; call
// Pop after every Push until it returns nil.
func (a *Assembler) Pop(now time.Time) *AssembledFrame {
	for a.started {
		// Padding between frames (senders pad only there) is consumed
		// as it comes: it neither ends nor breaks a frame.
		for s := a.slot(a.next); s != nil && s.pad; s = a.slot(a.next) {
			*s = slot{}
			a.next++
		}
		// The first missing packet or marker from next on.
		e := a.next
		for ; e <= a.highest; e++ {
			if s := a.slot(e); s == nil || s.marker {
				break
			}
		}
		if e > a.highest {
			return nil // the frame is still arriving
		}
		m := a.slot(e)
		if m == nil {
			// A gap with later packets present: wait for it a while
			// (retransmission, reordering), unless the ring fills up.
			f := e + 1
			for f <= a.highest && a.slot(f) == nil {
				f++
			}
			if f > a.highest {
				return nil
			}
			if now.Sub(a.slot(f).at) < a.maxDelay && a.highest-a.next < assemblerRing/2 {
				return nil
			}
			a.skipTo(f)
			continue
		}
		// next..e are all here and e ends a frame: the frame is the run of
		// packets before e with e's timestamp; anything before belongs to
		// an earlier frame whose end never came.
		start := e
		for start > a.next && a.slot(start-1).ts == m.ts {
			start--
		}
		clean := start > a.next || a.boundary || a.head(a.slot(start).payload)
		if start > a.next {
			a.skipTo(start)
		}
		if !clean {
			a.skipTo(e + 1)
			a.boundary = true
			continue
		}
		fr, err := a.build(start, e)
		for s := start; s <= e; s++ {
			*a.slot(s) = slot{}
		}
		a.next, a.boundary = e+1, true
		if err != nil {
			a.dropped++
			a.totalDrop++
			continue
		}
		fr.Lost, fr.Dropped = a.lost, a.dropped
		a.lost, a.dropped = 0, 0
		return fr
	}
	return nil
}

// build depacketizes packets start..end (all present) into a frame.
func (a *Assembler) build(start, end int64) (*AssembledFrame, error) {
	d := a.depack()
	fr := &AssembledFrame{Timestamp: a.slot(end).ts, FirstAt: a.slot(start).at, PictureID: -1}
	if strings.EqualFold(a.mime, webrtc.MimeTypeVP8) {
		fr.PictureID = vp8PictureID(a.slot(start).payload)
	}
	for s := start; s <= end; s++ {
		sl := a.slot(s)
		b, err := d.Unmarshal(sl.payload)
		if err != nil {
			return nil, err
		}
		fr.Data = append(fr.Data, b...)
		fr.Packets++
		if sl.at.After(fr.CompleteAt) {
			fr.CompleteAt = sl.at
		}
		if sl.at.Before(fr.FirstAt) {
			fr.FirstAt = sl.at
		}
	}
	if len(fr.Data) == 0 {
		return nil, fmt.Errorf("empty frame")
	}
	fr.Keyframe, _ = isKeyframe(a.mime, fr.Data)
	return fr, nil
}

// vp8PictureID reads the picture ID of a VP8 payload descriptor (RFC 7741
// 4.2), 7 or 15 bits; -1 if it has none.
func vp8PictureID(p []byte) int {
	if len(p) < 3 || p[0]&0x80 == 0 || p[1]&0x80 == 0 {
		return -1
	}
	if p[2]&0x80 == 0 {
		return int(p[2] & 0x7f)
	}
	if len(p) < 4 {
		return -1
	}
	return int(p[2]&0x7f)<<8 | int(p[3])
}
