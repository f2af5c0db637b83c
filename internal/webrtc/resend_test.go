package webrtc

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestResend: a NACK gets the packets sent again exactly as the viewer
// had them; packets from before a source switch, too old, or never sent
// are not.
func TestResend(t *testing.T) {
	st := &fakeStream{id: "hq"}
	src, err := newSource("hq", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	v := newTestViewer(t, src, rec, 9)
	defer v.close()
	for i := 0; i < 5; i++ {
		st.emit(vp8Frame(2500, i == 0, time.Duration(i)*time.Second/30))
	}
	waitFor(t, "five frames", func() bool { _, f := rec.snapshot(); return f == 5 })
	sent, _ := rec.snapshot()

	nack := func(seqs ...uint16) *rtcp.TransportLayerNack {
		return &rtcp.TransportLayerNack{MediaSSRC: 9, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
	}
	want := []rtp.Header{sent[1], sent[4], sent[7]}
	if n := v.resend(nack(want[0].SequenceNumber, want[1].SequenceNumber, want[2].SequenceNumber, want[2].SequenceNumber+100)); n != 3 {
		t.Fatalf("resent %d packets, want 3", n)
	}
	all, _ := rec.snapshot()
	again := all[len(sent):]
	for i, h := range again {
		if h.SequenceNumber != want[i].SequenceNumber || h.Timestamp != want[i].Timestamp || h.SSRC != 9 || h.Marker != want[i].Marker {
			t.Fatalf("resent %+v, want %+v", h, want[i])
		}
	}
	if n := v.resend(&rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{sent[0].SequenceNumber})}); n != 0 {
		t.Fatal("resent for another SSRC")
	}

	// Too old.
	v.history.add(sent[2].SequenceNumber, 1, &rtp.Packet{}, time.Now().Add(-time.Second))
	if n := v.resend(nack(sent[2].SequenceNumber)); n != 0 {
		t.Fatal("resent a packet older than maxResendAge")
	}

	// Switching source forgets what was sent before.
	lo := &fakeStream{id: "lq"}
	srcLo, err := newSource("lq", webrtc.RTPCodecTypeVideo, lo, vp8, time.Second/30)
	if err != nil {
		t.Fatal(err)
	}
	_ = lo.Acquire()
	v.cutSource(srcLo)
	lo.emit(vp8Frame(1000, true, 0))
	waitFor(t, "the new source's keyframe", func() bool { _, f := rec.snapshot(); return f == 6 })
	if n := v.resend(nack(sent[3].SequenceNumber)); n != 0 {
		t.Fatal("resent a packet of the source switched away from")
	}
	after, _ := rec.snapshot()
	last := after[len(after)-1].SequenceNumber
	// The writer records a packet in the history just after sending it.
	waitFor(t, "the new source's packet in the history", func() bool { _, ok := v.history.get(last, time.Now()); return ok })
	if n := v.resend(nack(last)); n != 1 {
		t.Fatal("the new source's packet was not resent")
	}
}

// FuzzResend: whatever RTCP a viewer sends, serving its NACKs neither
// panics nor resends more than the bound.
func FuzzResend(f *testing.F) {
	seed, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 9,
		Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{1, 2, 3, 700, 65535})}})
	f.Add(seed)
	st := &fakeStream{id: "hq"}
	src, err := newSource("hq", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	if err != nil {
		f.Fatal(err)
	}
	rec := &recorder{}
	v := newTestViewer(f, src, rec, 9)
	defer v.close()
	for i := 0; i < 40; i++ {
		st.emit(vp8Frame(3000, i == 0, time.Duration(i)*time.Second/30))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		pkts, err := rtcp.Unmarshal(raw)
		if err != nil {
			return
		}
		for _, p := range pkts {
			if n, ok := p.(*rtcp.TransportLayerNack); ok {
				if got := v.resend(n); got > maxResendPerNACK {
					t.Fatalf("resent %d packets for one NACK", got)
				}
			}
		}
	})
}
