package webrtc

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// TestQualityStats: per quality, the encoder's samples, bytes and
// keyframes are counted, its viewers are the tracks it feeds, and the
// queued samples are what its viewers' writers have not taken yet.
func TestQualityStats(t *testing.T) {
	hqStream, lqStream := &fakeStream{id: "hq"}, &fakeStream{id: "lq"}
	hq, err := newSource("hq", webrtc.RTPCodecTypeVideo, hqStream, vp8, time.Second/30)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := newSource("lq", webrtc.RTPCodecTypeVideo, lqStream, vp8, time.Second/30)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{videos: []*source{hq, lq}, byID: map[string]*source{"hq": hq, "lq": lq}, peers: map[*session.Session]*peer{}}

	fast, slow, low := &recorder{}, &recorder{block: make(chan struct{})}, &recorder{}
	vFast := newTestViewer(t, hq, fast, 1)
	vSlow := newTestViewer(t, hq, slow, 2)
	vLow := newTestViewer(t, lq, low, 3)
	defer vFast.close()
	defer func() { close(slow.block); vSlow.close() }()
	defer vLow.close()
	for _, v := range []*viewerTrack{vFast, vSlow, vLow} {
		m.peers[&session.Session{}] = &peer{video: v}
	}

	// Nothing encoded yet.
	for _, q := range m.QualityStats() {
		if q.Samples != 0 || q.Bytes != 0 || q.Keyframes != 0 || q.Packets != 0 || q.QueuedSamples != 0 {
			t.Fatalf("%s before any sample: %+v", q.ID, q)
		}
	}

	const hqFrames, lqFrames = 20, 7
	for i := range hqFrames {
		hqStream.emit(vp8Frame(3000, i%10 == 0, time.Duration(i)*time.Second/30))
	}
	for i := range lqFrames {
		lqStream.emit(vp8Frame(500, i == 0, time.Duration(i)*time.Second/30))
	}
	waitFor(t, "the writers", func() bool {
		_, f := fast.snapshot()
		_, l := low.snapshot()
		return f == hqFrames && l == lqFrames && slow.blocked.Load() && len(vFast.queue) == 0 && len(vLow.queue) == 0
	})

	got := m.QualityStats()
	if len(got) != 2 || got[0].ID != "hq" || got[1].ID != "lq" {
		t.Fatalf("qualities %+v, want hq then lq", got)
	}
	want := []QualityStats{
		// The stuck viewer's writer holds the first frame; the rest wait.
		{ID: "hq", Viewers: 2, Samples: hqFrames, Bytes: hqFrames * 3000, Keyframes: 2, QueuedSamples: hqFrames - 1},
		{ID: "lq", Viewers: 1, Samples: lqFrames, Bytes: lqFrames * 500, Keyframes: 1, QueuedSamples: 0},
	}
	for i, w := range want {
		g := got[i]
		if g.Viewers != w.Viewers || g.Samples != w.Samples || g.Bytes != w.Bytes || g.Keyframes != w.Keyframes || g.QueuedSamples != w.QueuedSamples {
			t.Errorf("%s: got %+v, want %+v", w.ID, g, w)
		}
		if g.Packets < g.Samples {
			t.Errorf("%s: %d packets for %d samples", w.ID, g.Packets, g.Samples)
		}
	}
	// 3000 bytes are 3 packets, 500 bytes one.
	if got[0].Packets != hqFrames*3 || got[1].Packets != lqFrames {
		t.Errorf("packets %d and %d, want %d and %d", got[0].Packets, got[1].Packets, hqFrames*3, lqFrames)
	}

	// A viewer that leaves no longer counts.
	vLow.clearSource()
	waitFor(t, "the low viewer to detach", func() bool { return lq.subscribers() == 0 })
	if q := m.QualityStats()[1]; q.Viewers != 0 || q.Samples != lqFrames {
		t.Fatalf("lq after its viewer left: %+v", q)
	}
}

// fakeBWE is a bandwidth estimator nobody calls: PeerStats only looks at
// whether a peer has one.
type fakeBWE struct{ cc.BandwidthEstimator }

// TestPeerStatsCounters: a peer's stats carry its session, video state,
// drops, padding and estimate; without an estimator the estimate is 0.
func TestPeerStatsCounters(t *testing.T) {
	st := &fakeStream{id: "hq"}
	src, err := newSource("hq", webrtc.RTPCodecTypeVideo, st, vp8, time.Second/30)
	if err != nil {
		t.Fatal(err)
	}
	sm := session.New(session.Options{})
	s1, err := sm.Create("one", types.MemberProfile{Name: "one", CanLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := sm.Create("two", types.MemberProfile{Name: "two", CanLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	newPC := func() *webrtc.PeerConnection {
		pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		return pc
	}
	v := newTestViewer(t, src, &recorder{}, 1)
	defer v.close()
	v.drops.Add(3)
	v.padded.Add(5)
	a := newViewerTrack(webrtc.RTPCodecTypeAudio, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, audioQueue)
	defer a.close()
	a.drops.Add(2)

	withBWE := &peer{session: s1, pc: newPC(), video: v, audio: a, bwe: fakeBWE{}, videoID: "hq", auto: true}
	withBWE.estimate.Store(1_500_000)
	noVideo := &peer{session: s2, pc: newPC(), videoDisabled: true}
	noVideo.estimate.Store(7) // no estimator: not reported
	m := &Manager{peers: map[*session.Session]*peer{s1: withBWE, s2: noVideo}}
	withBWE.m, noVideo.m = m, m

	byID := map[string]PeerStats{}
	for _, ps := range m.PeerStats() {
		byID[ps.SessionID] = ps
	}
	if len(byID) != 2 {
		t.Fatalf("peer stats %+v, want two sessions", byID)
	}
	one := byID[s1.ID()]
	if one.VideoID != "hq" || !one.Auto || one.DroppedSamples != 5 || one.Padding != 5 || one.EstimatedBitrate != 1_500_000 {
		t.Errorf("peer with video and estimator: %+v", one)
	}
	if one.HasRTP || one.RTT != 0 || one.BytesSent != 0 {
		t.Errorf("unconnected peer reports traffic: %+v", one)
	}
	two := byID[s2.ID()]
	if two.VideoID != "" || two.DroppedSamples != 0 || two.Padding != 0 || two.EstimatedBitrate != 0 {
		t.Errorf("peer without tracks or estimator: %+v", two)
	}
}

// TestRTCPStatsFromRealReports: between two pion peers, the sender's
// reports and the receiver's reception reports give the sender a
// round-trip time and the loss (none on loopback) from the RTCP it reads.
func TestRTCPStatsFromRealReports(t *testing.T) {
	newAPI := func() *webrtc.API {
		me := &webrtc.MediaEngine{}
		if err := me.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
		ir := &interceptor.Registry{}
		if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
			t.Fatal(err)
		}
		se := webrtc.SettingEngine{}
		se.SetIncludeLoopbackCandidate(true)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	}
	sender, err := newAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	receiver, err := newAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer receiver.Close()

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "stream")
	if err != nil {
		t.Fatal(err)
	}
	rtpSender, err := sender.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	ssrc := uint32(rtpSender.GetParameters().Encodings[0].SSRC)
	var reports rtcpStats
	go func() {
		for {
			pkts, _, err := rtpSender.ReadRTCP()
			if err != nil {
				return
			}
			reports.record(pkts, ssrc, time.Now())
		}
	}()
	receiver.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		// The receiver's reports answer the sender reports it reads.
		go func() {
			for {
				if _, _, err := r.ReadRTCP(); err != nil {
					return
				}
			}
		}()
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	})

	connected := make(chan struct{})
	sender.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			select {
			case <-connected:
			default:
				close(connected)
			}
		}
	})
	offer, err := sender.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(sender)
	if err := sender.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := receiver.SetRemoteDescription(*sender.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := receiver.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done = webrtc.GatheringCompletePromise(receiver)
	if err := receiver.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := sender.SetRemoteDescription(*receiver.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("not connected within 10s")
	}

	// Send frames until the receiver's reports give a round-trip time.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	seq := uint16(0)
	for {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: []byte{0x10, 0, 0, 0}}
		seq++
		if err := track.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Duration(reports.rtt.Load()); rtt > 0 {
			t.Logf("after %d packets: rtt %v, lost %d", seq, rtt, reports.packetsLost.Load())
			// Loopback: well under a second, even on a loaded machine.
			if rtt > time.Second {
				t.Errorf("round-trip time %v on loopback", rtt)
			}
			if n := reports.packetsLost.Load(); n != 0 {
				t.Errorf("%d packets reported lost on loopback", n)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no round-trip time from the receiver's reports after %d packets", seq)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestRTCPStatsRecord: reception reports of the video stream set its loss
// (a 24-bit signed count) and, once they echo a sender report, the
// round-trip time; NACKs and PLIs are counted; other streams' are not.
func TestRTCPStatsRecord(t *testing.T) {
	const video, audio = 1111, 2222
	now := time.Unix(1_700_000_000, 250_000_000)
	// The sender report went out 300 ms ago; the receiver held it 100 ms.
	lsr := compactNTP(now.Add(-300 * time.Millisecond))
	dlsr := uint32(65536 / 10)
	var r rtcpStats
	r.record([]rtcp.Packet{
		&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{SSRC: audio, FractionLost: 255, TotalLost: 99, LastSenderReport: lsr},
			{SSRC: video, FractionLost: 64, TotalLost: 0xfffffe, LastSenderReport: lsr, Delay: dlsr},
		}},
		&rtcp.TransportLayerNack{MediaSSRC: video}, &rtcp.TransportLayerNack{MediaSSRC: video},
		&rtcp.TransportLayerNack{MediaSSRC: audio},
		&rtcp.PictureLossIndication{MediaSSRC: video},
	}, video, now)
	if got := math.Float64frombits(r.fractionLost.Load()); got != 0.25 {
		t.Errorf("fraction lost %v, want 0.25", got)
	}
	if got := r.packetsLost.Load(); got != -2 {
		t.Errorf("packets lost %d, want -2 (0xfffffe as 24-bit signed)", got)
	}
	if got := time.Duration(r.rtt.Load()); got < 199*time.Millisecond || got > 201*time.Millisecond {
		t.Errorf("rtt %v, want 200ms (300ms since the sender report, 100ms held)", got)
	}
	if !r.reported.Load() {
		t.Error("not marked reported after a reception report")
	}
	if n, p := r.nacks.Load(), r.plis.Load(); n != 2 || p != 1 {
		t.Errorf("%d NACKs and %d PLIs, want 2 and 1", n, p)
	}

	// A report that echoes no sender report, or one from the future,
	// leaves the round-trip time as it was.
	r.record([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: video}}}}, video, now)
	r.record([]rtcp.Packet{&rtcp.SenderReport{Reports: []rtcp.ReceptionReport{
		{SSRC: video, LastSenderReport: compactNTP(now.Add(time.Second))}}}}, video, now)
	if got := time.Duration(r.rtt.Load()); got < 199*time.Millisecond || got > 201*time.Millisecond {
		t.Errorf("rtt %v after reports without a usable echo, want 200ms kept", got)
	}
}
