package viewer

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// vp8Frame returns the packets of one VP8 frame of n packets starting at
// seq: the first has the S bit (partition 0), the last the marker. The
// payload after the one-byte descriptor is the frame tag (bit 0 clear for
// a keyframe) then id and the packet index, so the assembled data tells
// which packets went in.
func vp8Frame(seq uint16, ts uint32, n int, key bool, id byte) []*rtp.Packet {
	var pkts []*rtp.Packet
	for i := range n {
		desc := byte(0)
		if i == 0 {
			desc = 0x10
		}
		body := []byte{id, byte(i)}
		if i == 0 {
			tag := byte(1)
			if key {
				tag = 0
			}
			body = append([]byte{tag}, body...)
		}
		pkts = append(pkts, &rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: seq + uint16(i), Timestamp: ts, Marker: i == n-1},
			Payload: append([]byte{desc}, body...),
		})
	}
	return pkts
}

// vp8Data is what the assembler should give for vp8Frame(…, n, key, id).
func vp8Data(n int, key bool, id byte) []byte {
	var b []byte
	for i := range n {
		if i == 0 {
			if key {
				b = append(b, 0)
			} else {
				b = append(b, 1)
			}
		}
		b = append(b, id, byte(i))
	}
	return b
}

type asmTest struct {
	t   *testing.T
	a   *Assembler
	now time.Time
}

func newAsmTest(t *testing.T, mime string) *asmTest {
	a, err := NewAssembler(mime, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return &asmTest{t: t, a: a, now: time.Unix(1000, 0)}
}

// push adds packets 1 ms apart and returns the frames that came out.
func (at *asmTest) push(pkts ...*rtp.Packet) []*AssembledFrame {
	var out []*AssembledFrame
	for _, p := range pkts {
		at.now = at.now.Add(time.Millisecond)
		at.a.Push(p, at.now)
		for f := at.a.Pop(at.now); f != nil; f = at.a.Pop(at.now) {
			out = append(out, f)
		}
	}
	return out
}

// wait advances the clock and returns the frames that came out.
func (at *asmTest) wait(d time.Duration) []*AssembledFrame {
	at.now = at.now.Add(d)
	var out []*AssembledFrame
	for f := at.a.Pop(at.now); f != nil; f = at.a.Pop(at.now) {
		out = append(out, f)
	}
	return out
}

func (at *asmTest) want(got []*AssembledFrame, ids ...byte) {
	at.t.Helper()
	if len(got) != len(ids) {
		at.t.Fatalf("got %d frames, want %d (%v)", len(got), len(ids), ids)
	}
	for i, f := range got {
		if len(f.Data) < 2 || f.Data[1] != ids[i] {
			at.t.Fatalf("frame %d: data %v, want id %d", i, f.Data, ids[i])
		}
	}
}

func cat(groups ...[]*rtp.Packet) []*rtp.Packet {
	var out []*rtp.Packet
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func TestAssemblerCompletesOnMarker(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1 := vp8Frame(100, 3000, 3, true, 1)
	// Nothing before the marker; the frame as soon as it arrives, without
	// waiting for a packet of the next frame.
	at.want(at.push(f1[:2]...))
	got := at.push(f1[2])
	at.want(got, 1)
	f := got[0]
	if !bytes.Equal(f.Data, vp8Data(3, true, 1)) {
		t.Fatalf("data %v, want %v", f.Data, vp8Data(3, true, 1))
	}
	if !f.Keyframe || f.Packets != 3 || f.Timestamp != 3000 || f.Lost != 0 || f.Dropped != 0 {
		t.Fatalf("frame %+v", f)
	}
	if !f.CompleteAt.Equal(at.now) || f.CompleteAt.Sub(f.FirstAt) != 2*time.Millisecond {
		t.Fatalf("first %v complete %v now %v", f.FirstAt, f.CompleteAt, at.now)
	}
	got = at.push(vp8Frame(103, 6000, 1, false, 2)...)
	at.want(got, 2)
	if got[0].Keyframe {
		t.Fatal("delta frame reported as keyframe")
	}
}

func TestAssemblerReordering(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f2 := vp8Frame(10, 0, 3, true, 1), vp8Frame(13, 3000, 2, false, 2)
	// Marker before the middle packet; the next frame before the
	// previous one is complete.
	at.want(at.push(f1[0], f1[2], f2[0], f2[1]))
	got := at.push(f1[1])
	at.want(got, 1, 2)
	if !bytes.Equal(got[0].Data, vp8Data(3, true, 1)) || got[1].Lost != 0 {
		t.Fatalf("frames %+v %+v", got[0], got[1])
	}
}

func TestAssemblerLossDropsFrame(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f2, f3 := vp8Frame(10, 0, 2, true, 1), vp8Frame(12, 3000, 3, false, 2), vp8Frame(15, 6000, 2, false, 3)
	at.want(at.push(f1...), 1)
	// f2 loses its middle packet: f3 waits for it...
	at.want(at.push(f2[0], f2[2], f3[0], f3[1]))
	at.want(at.wait(100 * time.Millisecond))
	// ...until it is given up: f2 is dropped, never delivered incomplete,
	// and f3 says so.
	got := at.wait(150 * time.Millisecond)
	at.want(got, 3)
	if got[0].Lost != 1 || got[0].Dropped != 1 {
		t.Fatalf("lost %d dropped %d, want 1 and 1", got[0].Lost, got[0].Dropped)
	}
	// The missing packet arriving late changes nothing.
	at.want(at.push(f2[1]))
	got = at.push(vp8Frame(17, 9000, 1, true, 4)...)
	at.want(got, 4)
	if got[0].Lost != 0 || got[0].Dropped != 0 {
		t.Fatalf("counters not reset: %+v", got[0])
	}
	if at.a.Lost() != 1 || at.a.Dropped() != 1 {
		t.Fatalf("totals lost %d dropped %d", at.a.Lost(), at.a.Dropped())
	}
}

func TestAssemblerRetransmissionInTime(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f2 := vp8Frame(10, 0, 3, true, 1), vp8Frame(13, 3000, 1, false, 2)
	at.want(at.push(f1[0], f1[2], f2[0]))
	at.want(at.wait(150 * time.Millisecond))
	got := at.push(f1[1]) // a NACK brought it back
	at.want(got, 1, 2)
	if got[0].Lost+got[1].Lost+got[0].Dropped+got[1].Dropped != 0 {
		t.Fatal("a recovered packet counted as lost")
	}
}

func TestAssemblerWholeFrameLost(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f3 := vp8Frame(10, 0, 1, true, 1), vp8Frame(14, 6000, 2, false, 3)
	at.want(at.push(f1...), 1)
	// Packets 11–13 (a whole frame) never come: f3 starts with a frame
	// head, so it is whole, but its reference is gone.
	at.want(at.push(f3...))
	got := at.wait(time.Second)
	at.want(got, 3)
	if got[0].Lost != 3 || got[0].Dropped != 0 {
		t.Fatalf("lost %d dropped %d, want 3 and 0", got[0].Lost, got[0].Dropped)
	}
}

func TestAssemblerMarkerLost(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f2, f3 := vp8Frame(10, 0, 1, true, 1), vp8Frame(11, 3000, 3, false, 2), vp8Frame(14, 6000, 1, false, 3)
	at.want(at.push(f1...), 1)
	at.want(at.push(f2[0], f2[1], f3[0]))
	got := at.wait(time.Second)
	at.want(got, 3)
	if got[0].Lost != 1 || got[0].Dropped != 1 {
		t.Fatalf("lost %d dropped %d, want 1 and 1", got[0].Lost, got[0].Dropped)
	}
}

func TestAssemblerStartsMidFrame(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f2 := vp8Frame(10, 0, 3, true, 1), vp8Frame(13, 3000, 2, false, 2)
	// The first packet received is the middle of f1: f1 cannot be whole.
	got := at.push(cat(f1[1:], f2)...)
	at.want(got, 2)
	if got[0].Dropped != 1 {
		t.Fatalf("dropped %d, want 1", got[0].Dropped)
	}
}

func TestAssemblerStartsAtFrameHead(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	got := at.push(vp8Frame(10, 0, 2, true, 1)...)
	at.want(got, 1)
	if got[0].Dropped != 0 || got[0].Lost != 0 {
		t.Fatalf("%+v", got[0])
	}
}

func TestAssemblerWrapAndDuplicates(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f2 := vp8Frame(65533, 0, 4, true, 1), vp8Frame(1, 3000, 2, false, 2)
	pkts := []*rtp.Packet{f1[0], f1[1], f1[1], f1[2], f1[3], f1[3], f2[0], f2[0], f2[1]}
	got := at.push(pkts...)
	at.want(got, 1, 2)
	if !bytes.Equal(got[0].Data, vp8Data(4, true, 1)) || got[1].Lost != 0 || got[1].Dropped != 0 {
		t.Fatalf("frames %v / %+v", got[0].Data, got[1])
	}
}

func TestAssemblerFarJump(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	at.want(at.push(vp8Frame(10, 0, 1, true, 1)...), 1)
	// A jump of more than the ring: what was waiting is given up at once.
	at.want(at.push(vp8Frame(12, 3000, 2, false, 2)[0]))
	got := at.push(vp8Frame(12+2*assemblerRing, 9000, 1, true, 3)...)
	at.want(got, 3)
	if got[0].Dropped != 1 {
		t.Fatalf("%+v", got[0])
	}
	// A sender that starts over far behind is followed.
	got = at.push(vp8Frame(12, 12000, 1, true, 4)...)
	at.want(got, 4)
}

func TestAssemblerH264(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeH264)
	// Frame 1: SPS (single NAL) then an IDR slice in two FU-A fragments;
	// frame 2: a non-IDR slice in one packet.
	sps := []byte{0x67, 0x42, 0x00, 0x1f}
	fu := func(start, end bool, typ byte, body ...byte) []byte {
		h := byte(typ)
		if start {
			h |= 0x80
		}
		if end {
			h |= 0x40
		}
		return append([]byte{0x7c, h}, body...)
	}
	pk := func(seq uint16, ts uint32, marker bool, payload []byte) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}
	}
	f1 := []*rtp.Packet{pk(50, 0, false, sps), pk(51, 0, false, fu(true, false, 5, 0xaa)), pk(52, 0, true, fu(false, true, 5, 0xbb))}
	f2 := []*rtp.Packet{pk(53, 3000, true, []byte{0x41, 0xcc})}
	got := at.push(cat(f1, f2)...)
	if len(got) != 2 {
		t.Fatalf("got %d frames", len(got))
	}
	want1 := []byte{0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1f, 0, 0, 0, 1, 0x65, 0xaa, 0xbb}
	if !bytes.Equal(got[0].Data, want1) || !got[0].Keyframe {
		t.Fatalf("frame 1 %x key %v, want %x", got[0].Data, got[0].Keyframe, want1)
	}
	if !bytes.Equal(got[1].Data, []byte{0, 0, 0, 1, 0x41, 0xcc}) || got[1].Keyframe {
		t.Fatalf("frame 2 %x key %v", got[1].Data, got[1].Keyframe)
	}
	// Starting inside a fragmented NAL (no start bit): that frame is
	// dropped, the next taken from its timestamp change.
	at2 := newAsmTest(t, webrtc.MimeTypeH264)
	got = at2.push(f1[2], f2[0])
	if len(got) != 1 || got[0].Timestamp != 3000 || got[0].Dropped != 1 {
		t.Fatalf("got %d frames (%+v)", len(got), got)
	}
}

func TestAssemblerVP9Head(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP9)
	// Descriptor with only the B and E bits: a whole frame in one packet.
	// The uncompressed header 0x82 is frame marker 0b10, profile 0, keyframe.
	got := at.push(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 1, Marker: true}, Payload: []byte{0x0c, 0x82, 0x49}})
	if len(got) != 1 || !got[0].Keyframe || !bytes.Equal(got[0].Data, []byte{0x82, 0x49}) {
		t.Fatalf("%+v", got)
	}
}

func TestAssemblerUnknownCodec(t *testing.T) {
	if _, err := NewAssembler("video/nope", time.Second); err == nil {
		t.Fatal("no error for an unknown codec")
	}
}

// TestAssemblerPadding: padding-only packets between frames (a sender's
// bandwidth probe) take sequence numbers but are neither loss nor frames.
func TestAssemblerPadding(t *testing.T) {
	at := newAsmTest(t, webrtc.MimeTypeVP8)
	f1, f2 := vp8Frame(100, 0, 2, true, 1), vp8Frame(105, 3000, 2, false, 2)
	pad := func(seq uint16) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 255, SequenceNumber: seq, Timestamp: 0}}
	}
	got := at.push(f1[0], f1[1], pad(102), pad(104), pad(103), f2[0], f2[1])
	at.want(got, 1, 2)
	if got[1].Lost != 0 || got[1].Dropped != 0 {
		t.Fatalf("padding counted as loss: %+v", got[1])
	}
}

func TestVP8PictureID(t *testing.T) {
	for _, tc := range []struct {
		p    []byte
		want int
	}{
		{[]byte{0x90, 0x80, 0x05, 0x00}, 5},         // 7 bits
		{[]byte{0x90, 0x80, 0x81, 0x02, 0x00}, 258}, // 15 bits
		{[]byte{0x10, 0x00, 0x00}, -1},              // no extension
		{[]byte{0x90, 0x00, 0x00}, -1},              // no picture ID
		{[]byte{0x90, 0x80}, -1},                    // truncated
	} {
		if got := vp8PictureID(tc.p); got != tc.want {
			t.Errorf("vp8PictureID(% x) = %d, want %d", tc.p, got, tc.want)
		}
	}
}
