package webrtc

import (
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// probeMeter measures what the path to a viewer delivers while a probe
// pads its track, from the viewer's transport-wide congestion control
// feedback: the bytes of the packets sent during the probe that arrived,
// over the time they took to arrive, and the share that never did.
//
// Pion's estimator cannot judge a probe: it matches feedback against its
// last 250 packets only, and padding packets are small (255 bytes at
// most), so once a probe backs a queue up for more than a fraction of a
// second every acknowledgement misses that history and the estimator sees
// nothing at all, which looks like a clean path.
type probeMeter struct {
	mu      sync.Mutex
	active  bool
	packets map[uint16]*probePacket // by transport-wide sequence number
}

type probePacket struct {
	size     int
	sentAt   time.Time
	reported bool
	received bool
	arrival  time.Duration // receiver's clock
}

// maxProbePackets bounds the memory of one probe (about 1 MiB): 3 s of
// padding-only packets at 20 Mbit/s.
const maxProbePackets = 32768

// begin starts recording a new probe.
func (m *probeMeter) begin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active = true
	m.packets = make(map[uint16]*probePacket, 1024)
}

// stop ends recording; feedback for the recorded packets still counts.
func (m *probeMeter) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active = false
}

// sent records a packet sent while the probe runs (media or padding),
// size bytes on the wire without lower layers.
func (m *probeMeter) sent(seq uint16, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.active || len(m.packets) >= maxProbePackets {
		return
	}
	m.packets[seq] = &probePacket{size: size, sentAt: time.Now()}
}

// feedback applies one transport-wide feedback report.
func (m *probeMeter) feedback(fb *rtcp.TransportLayerCC) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.packets) == 0 {
		return
	}
	at := time.Duration(fb.ReferenceTime) * 64 * time.Millisecond
	seq := fb.BaseSequenceNumber
	deltas := fb.RecvDeltas
	status := func(symbol uint16) {
		p := m.packets[seq]
		received := symbol != rtcp.TypeTCCPacketNotReceived
		if symbol == rtcp.TypeTCCPacketReceivedSmallDelta || symbol == rtcp.TypeTCCPacketReceivedLargeDelta {
			if len(deltas) == 0 {
				return // malformed: more received than deltas
			}
			at += time.Duration(deltas[0].Delta) * time.Microsecond
			deltas = deltas[1:]
		}
		if p != nil {
			// A later report may recover a packet reported lost.
			if !p.received {
				p.reported, p.received, p.arrival = true, received, at
			}
		}
		seq++
	}
	left := int(fb.PacketStatusCount)
	for _, chunk := range fb.PacketChunks {
		switch c := chunk.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && left > 0; i++ {
				status(c.PacketStatusSymbol)
				left--
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if left == 0 {
					break
				}
				status(s)
				left--
			}
		}
	}
}

// probeWindow is what the feedback says of the probe's packets sent in
// a window: the rate they were sent at and the rate they arrived at (bit/s,
// 0 if too few), the share of the reported ones lost, how many reported.
type probeWindow struct {
	sendRate, recvRate int
	loss               float64
	reported           int
}

// window reports on the packets sent at or after since.
func (m *probeMeter) window(since time.Time) probeWindow {
	m.mu.Lock()
	defer m.mu.Unlock()
	type pkt struct {
		sent    time.Time
		arrival time.Duration
		size    int
	}
	var got []pkt
	var w probeWindow
	lost := 0
	for _, p := range m.packets {
		if !p.reported || p.sentAt.Before(since) {
			continue
		}
		w.reported++
		if !p.received {
			lost++
			continue
		}
		got = append(got, pkt{p.sentAt, p.arrival, p.size})
	}
	if w.reported > 0 {
		w.loss = float64(lost) / float64(w.reported)
	}
	if len(got) < 2 {
		return w
	}
	// Each rate leaves out the packet that opens its span.
	total := 0
	for _, p := range got {
		total += p.size
	}
	slices.SortFunc(got, func(a, b pkt) int { return a.sent.Compare(b.sent) })
	if span := got[len(got)-1].sent.Sub(got[0].sent); span > 0 {
		w.sendRate = int(float64((total-got[0].size)*8) / span.Seconds())
	}
	slices.SortFunc(got, func(a, b pkt) int { return int(a.arrival - b.arrival) })
	if span := got[len(got)-1].arrival - got[0].arrival; span > 0 {
		w.recvRate = int(float64((total-got[0].size)*8) / span.Seconds())
	}
	return w
}
