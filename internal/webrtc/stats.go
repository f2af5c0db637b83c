package webrtc

import (
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/stats"
	"github.com/pion/webrtc/v4"
)

// QualityStats describes one video quality (a capture stream and its
// packetiser) for metrics.
type QualityStats struct {
	ID      string
	Viewers int     // viewer tracks attached to the quality
	FPS     float64 // frames per second, last one-second window
	Bitrate int     // bit/s, smoothed
	// Samples, Bytes and Keyframes are the encoder's output since start;
	// Packets the RTP packets made of it (only while someone watches).
	Samples, Bytes, Keyframes, Packets uint64
	// QueuedSamples is the sum of the queue lengths of the viewer tracks
	// this quality feeds (or is about to, during a switch): how far the
	// viewers' writers lag behind the encoder.
	QueuedSamples int
}

// QualityStats reports every video quality, in capture.video.ids order.
func (m *Manager) QualityStats() []QualityStats {
	queued := map[*source]int{}
	for _, p := range m.livePeers() {
		if p.video == nil {
			continue
		}
		if s := p.video.source(); s != nil {
			queued[s] += len(p.video.queue)
		}
	}
	out := make([]QualityStats, 0, len(m.videos))
	for _, s := range m.videos {
		out = append(out, QualityStats{
			ID:            s.id,
			Viewers:       s.subscribers(),
			FPS:           s.meter.FPS(),
			Bitrate:       s.meter.Rate(),
			Samples:       s.samples.Load(),
			Bytes:         s.bytes.Load(),
			Keyframes:     s.keyframes.Load(),
			Packets:       s.packets.Load(),
			QueuedSamples: queued[s],
		})
	}
	return out
}

// PeerStats describes one viewer's peer connection for metrics.
type PeerStats struct {
	SessionID string
	VideoID   string // selected quality, also while video is off
	Auto      bool   // the quality follows the bandwidth estimate
	// RTT is the round-trip time from the viewer's RTCP receiver reports
	// of the video stream, or else that of the ICE connectivity checks
	// on the selected candidate pair; 0 until measured.
	RTT time.Duration
	// HasRTP says whether the RTP stream statistics below were available
	// (the RTP stats interceptor is registered, see rtpStatsRegistry, and the
	// video track is bound).
	HasRTP bool
	// FractionLost and PacketsLost are the video stream's loss as the
	// viewer last reported it (PacketsLost is cumulative); NACKs and
	// PLIs the retransmission and keyframe requests it sent for it.
	FractionLost float64
	PacketsLost  int64
	NACKs, PLIs  uint64
	// PacketsSent and BytesSent are what went to the peer over its ICE
	// transport (all candidate pairs: media, padding, RTCP, data
	// channel); an ICE restart may start them over.
	PacketsSent, BytesSent uint64
	// DroppedSamples are the samples (frames) the viewer's queues threw
	// away; Padding the padding packets its video probes sent.
	DroppedSamples uint64
	Padding        uint64
	// EstimatedBitrate is the bandwidth estimate in bit/s, 0 when the
	// estimator is off.
	EstimatedBitrate int
}

// PeerStats reports every live peer. It asks pion for each one's stats,
// so it is meant for scrapes, not hot paths.
func (m *Manager) PeerStats() []PeerStats {
	peers := m.livePeers()
	out := make([]PeerStats, 0, len(peers))
	for _, p := range peers {
		out = append(out, p.stats())
	}
	return out
}

func (p *peer) stats() PeerStats {
	vs := p.videoState()
	ps := PeerStats{SessionID: p.session.ID(), VideoID: vs.ID, Auto: vs.Auto}
	for _, t := range []*viewerTrack{p.video, p.audio} {
		if t != nil {
			ps.DroppedSamples += t.drops.Load()
		}
	}
	if p.video != nil {
		ps.Padding = p.video.padded.Load()
	}
	if p.bwe != nil {
		ps.EstimatedBitrate = int(p.estimate.Load())
	}

	// pion's report has the transport's statistics but (v4.2) none of
	// the outgoing RTP streams': those come from our stats interceptor,
	// found by the peer connection's id.
	var (
		pcID   string
		iceRTT float64
	)
	for _, s := range p.pc.GetStats() {
		switch s := s.(type) {
		case webrtc.PeerConnectionStats:
			pcID = s.ID
		case webrtc.ICECandidatePairStats:
			ps.PacketsSent += uint64(s.PacketsSent)
			ps.BytesSent += s.BytesSent
			if s.Nominated && s.State == webrtc.StatsICECandidatePairStateSucceeded && s.CurrentRoundTripTime > 0 {
				iceRTT = s.CurrentRoundTripTime
			}
		}
	}
	if g := p.m.rtp.get(pcID); g != nil && p.video != nil {
		if b := p.video.bound.Load(); b != nil {
			if st := g.Get(b.ssrc); st != nil {
				ps.HasRTP = true
				ps.NACKs = uint64(st.OutboundRTPStreamStats.NACKCount)
				ps.PLIs = uint64(st.OutboundRTPStreamStats.PLICount)
				ps.FractionLost = st.RemoteInboundRTPStreamStats.FractionLost
				ps.PacketsLost = st.RemoteInboundRTPStreamStats.PacketsLost
				ps.RTT = st.RemoteInboundRTPStreamStats.RoundTripTime
			}
		}
	}
	if ps.RTT <= 0 {
		ps.RTT = time.Duration(iceRTT * float64(time.Second))
	}
	return ps
}

// rtpStatsRegistry maps a pion peer connection id to the statistics of
// its RTP streams; one per Manager. pion (v4.2) records them with a stats
// interceptor of its own but neither reports the outgoing streams in
// GetStats nor exposes that interceptor, so add registers a second one.
type rtpStatsRegistry struct{ getters sync.Map } // string → stats.Getter

func (r *rtpStatsRegistry) get(pcID string) stats.Getter {
	if r == nil || pcID == "" {
		return nil
	}
	if g, ok := r.getters.Load(pcID); ok {
		return g.(stats.Getter)
	}
	return nil
}

// add registers the stats interceptor PeerStats reads the RTP streams'
// statistics from. Register it before pion's default interceptors: an
// interceptor sees the RTCP written by those registered after it only,
// and the round-trip time needs the sender reports.
func (r *rtpStatsRegistry) add(ir *interceptor.Registry, opts ...stats.Option) error {
	f, err := stats.NewInterceptor(opts...)
	if err != nil {
		return err
	}
	ir.Add(rtpStatsFactory{f: f, r: r})
	return nil
}

type rtpStatsFactory struct {
	f *stats.InterceptorFactory
	r *rtpStatsRegistry
}

func (r rtpStatsFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := r.f.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	g, ok := i.(stats.Getter)
	if !ok {
		return i, nil
	}
	r.r.getters.Store(id, g)
	return &rtpStatsInterceptor{Interceptor: i, id: id, r: r.r}, nil
}

// rtpStatsInterceptor forgets its peer connection's statistics when the
// peer connection closes.
type rtpStatsInterceptor struct {
	interceptor.Interceptor
	id string
	r  *rtpStatsRegistry
}

func (i *rtpStatsInterceptor) Close() error {
	i.r.getters.Delete(i.id)
	return i.Interceptor.Close()
}
