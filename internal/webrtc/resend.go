package webrtc

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Retransmission (RFC 4585 generic NACK) is served from each viewer's own
// history of the packets it was sent. The history holds pointers to the
// packets the source made once for every viewer, not copies: pion's NACK
// responder copies every packet into a 1460-byte buffer per viewer, which
// made the retransmission history most of the memory a viewer cost.
const (
	// historySize is how many packets a viewer's history holds: about
	// two seconds at 2-3 Mbit/s.
	historySize = 512
	// maxResendAge: a packet older than this is not resent; the viewer's
	// jitter buffer has given it up (and after a collapse the backlog of
	// stale retransmissions would delay fresh frames).
	maxResendAge = 500 * time.Millisecond
	// maxResendPerNACK bounds the packets one request can make us send.
	maxResendPerNACK = 128
)

type sentPacket struct {
	pkt  *rtp.Packet // shared, never modified
	seq  uint16      // the viewer's own numbering
	ts   uint32
	at   time.Time
	used bool
}

// sentHistory is a ring indexed by the viewer's sequence number. The
// writer adds; the RTCP reader looks up.
type sentHistory struct {
	mu   sync.Mutex
	ring [historySize]sentPacket
}

func (h *sentHistory) add(seq uint16, ts uint32, p *rtp.Packet, at time.Time) {
	h.mu.Lock()
	h.ring[int(seq)%historySize] = sentPacket{pkt: p, seq: seq, ts: ts, at: at, used: true}
	h.mu.Unlock()
}

func (h *sentHistory) clear() {
	h.mu.Lock()
	for i := range h.ring {
		h.ring[i] = sentPacket{}
	}
	h.mu.Unlock()
}

// get returns the packet sent as seq if the history still has it and it is
// recent enough.
func (h *sentHistory) get(seq uint16, now time.Time) (sentPacket, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.ring[int(seq)%historySize]
	if !e.used || e.seq != seq || now.Sub(e.at) > maxResendAge {
		return sentPacket{}, false
	}
	return e, true
}

// resend serves a viewer's NACK: each packet still in its history is sent
// again, unchanged (same sequence number and timestamp), through the
// interceptors (so the bandwidth estimator counts it). It returns how many
// were resent.
func (t *viewerTrack) resend(nack *rtcp.TransportLayerNack) int {
	b := t.bound.Load()
	if b == nil || nack.MediaSSRC != b.ssrc {
		return 0
	}
	now := time.Now()
	n := 0
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			if n >= maxResendPerNACK {
				return n
			}
			e, ok := t.history.get(seq, now)
			if !ok {
				continue
			}
			hdr := e.pkt.Header
			hdr.SSRC, hdr.PayloadType, hdr.SequenceNumber, hdr.Timestamp = b.ssrc, b.pt, e.seq, e.ts
			hdr.Extensions = nil
			if _, err := b.w.WriteRTP(&hdr, e.pkt.Payload); err != nil {
				return n
			}
			n++
		}
	}
	t.resent.Add(uint64(n))
	return n
}
