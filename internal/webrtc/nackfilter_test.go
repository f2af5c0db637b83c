package webrtc

import (
	"reflect"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func nackOf(t *testing.T, b []byte) ([]uint16, []rtcp.Packet) {
	t.Helper()
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint16
	for _, p := range pkts {
		if n, ok := p.(*rtcp.TransportLayerNack); ok {
			for _, pair := range n.Nacks {
				seqs = append(seqs, pair.PacketList()...)
			}
		}
	}
	return seqs, pkts
}

// TestNACKFilter: requests for packets before the track's last source
// switch are dropped, the rest of the compound packet is kept, other
// SSRCs pass untouched, and sequence numbers wrap.
func TestNACKFilter(t *testing.T) {
	f := &nackFilter{floor: map[uint32]uint16{}}
	compound := func(ssrc uint32, seqs ...uint16) []byte {
		b, err := rtcp.Marshal([]rtcp.Packet{
			&rtcp.ReceiverReport{SSRC: 1},
			&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return append(b, make([]byte, 64)...) // room, as a read buffer has
	}

	b := compound(7, 100, 101, 105)
	size := len(b) - 64
	if n := f.filter(b, size); n != size {
		t.Fatalf("no switch yet: size %d → %d", size, n)
	}

	f.switched(7, 103)
	b = compound(7, 100, 101, 105, 110)
	n := f.filter(b, len(b)-64)
	seqs, pkts := nackOf(t, b[:n])
	if !reflect.DeepEqual(seqs, []uint16{105, 110}) || len(pkts) != 2 {
		t.Fatalf("after a switch at 103: NACKed %v in %d packets, want [105 110] in 2", seqs, len(pkts))
	}

	b = compound(7, 98, 99)
	n = f.filter(b, len(b)-64)
	seqs, pkts = nackOf(t, b[:n])
	if len(seqs) != 0 || len(pkts) != 1 {
		t.Fatalf("only stale requests: NACKed %v in %d packets, want none and the report", seqs, len(pkts))
	}

	b = compound(8, 1, 2)
	size = len(b) - 64
	if n := f.filter(b, size); n != size {
		t.Fatal("another SSRC's NACKs were rewritten")
	}

	f.switched(7, 2) // after a wrap
	b = compound(7, 65534, 65535, 3)
	n = f.filter(b, len(b)-64)
	if seqs, _ = nackOf(t, b[:n]); !reflect.DeepEqual(seqs, []uint16{3}) {
		t.Fatalf("across the wrap: NACKed %v, want [3]", seqs)
	}

	garbage := []byte{1, 2, 3}
	if n := f.filter(garbage, 3); n != 3 {
		t.Fatal("unparsable RTCP was changed")
	}
}

// TestProbeMeterFeedback: transport-wide feedback marks the probe's
// packets received (with arrival times) or lost, and the window gives the
// rates and the loss.
func TestProbeMeterFeedback(t *testing.T) {
	var m probeMeter
	m.begin()
	for seq := uint16(10); seq < 20; seq++ {
		m.sent(seq, 1000)
	}
	m.stop()
	m.sent(20, 1000) // after the probe: not recorded
	// 10..17 received 1 ms apart, 18 and 19 lost.
	deltas := make([]*rtcp.RecvDelta, 8)
	for i := range deltas {
		deltas[i] = &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000}
	}
	m.feedback(&rtcp.TransportLayerCC{
		BaseSequenceNumber: 10, PacketStatusCount: 10, ReferenceTime: 5,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 8},
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 2},
		},
		RecvDeltas: deltas,
	})
	w := m.window(time.Time{})
	if w.reported != 10 || w.loss != 0.2 {
		t.Fatalf("reported %d lost %.2f, want 10 and 0.20", w.reported, w.loss)
	}
	// 7 packets of 1000 bytes over 7 ms after the first.
	if w.recvRate != 8_000_000 {
		t.Fatalf("arrival rate %d, want 8000000", w.recvRate)
	}
}

// FuzzNACKFilter: whatever RTCP a client sends, the filter neither panics
// nor grows the packet past its buffer, and its output still parses when
// it changed anything.
func FuzzNACKFilter(f *testing.F) {
	seed, _ := rtcp.Marshal([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: 1},
		&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 7, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{1, 2, 40, 900})},
	})
	f.Add(seed, uint16(30))
	f.Fuzz(func(t *testing.T, b []byte, floor uint16) {
		nf := &nackFilter{floor: map[uint32]uint16{7: floor}}
		buf := append(append([]byte(nil), b...), make([]byte, 16)...)
		n := nf.filter(buf, len(b))
		if n > len(buf) || n < 0 {
			t.Fatalf("size %d of a %d-byte buffer", n, len(buf))
		}
		if n != len(b) {
			if _, err := rtcp.Unmarshal(buf[:n]); err != nil {
				t.Fatalf("rewritten packet does not parse: %v", err)
			}
		}
	})
}
