package webrtc

import (
	"math"
	"time"
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
	// EncoderQueued is the number of raw frames waiting for the encoder
	// (EncoderFed false: unknown, the pipeline is not fed from our
	// capture); EncoderLatency the smoothed time from capture to encoded
	// frame (0 until measured). Both need a Stream with EncoderStats.
	EncoderQueued  int
	EncoderFed     bool
	EncoderLatency time.Duration
}

// encoderStats is what a capture stream may report of its encoder
// (capture.Stream does).
type encoderStats interface {
	EncoderStats() (queued int, fed bool, latency time.Duration)
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
		q := QualityStats{
			ID:            s.id,
			Viewers:       s.subscribers(),
			FPS:           s.meter.FPS(),
			Bitrate:       s.meter.Rate(),
			Samples:       s.samples.Load(),
			Bytes:         s.bytes.Load(),
			Keyframes:     s.keyframes.Load(),
			Packets:       s.packets.Load(),
			QueuedSamples: queued[s],
		}
		if es, ok := s.stream.(encoderStats); ok {
			q.EncoderQueued, q.EncoderFed, q.EncoderLatency = es.EncoderStats()
		}
		out = append(out, q)
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
	// HasRTP says whether the RTP stream statistics below apply: the
	// viewer has sent a reception report of its video (see rtcpStats).
	HasRTP bool
	// FractionLost and PacketsLost are the video stream's loss as the
	// viewer last reported it (PacketsLost is cumulative); NACKs and
	// PLIs the retransmission and keyframe requests it sent for it.
	FractionLost float64
	PacketsLost  int64
	NACKs, PLIs  uint64
	// PacketsSent and BytesSent are what went to the peer over its
	// selected ICE candidate pair (media, padding, RTCP, data channel);
	// they start over when another pair is selected (an ICE restart, a
	// network change).
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

	// Not pc.GetStats: pion (v4.2.26) reads its stats getter there
	// unlocked while a close it starts itself on an SCTP abort clears it,
	// a data race. The selected pair's statistics come through locked
	// getters.
	var iceRTT float64
	if pair, ok := p.selectedPair(); ok {
		ps.PacketsSent, ps.BytesSent = uint64(pair.PacketsSent), pair.BytesSent
		iceRTT = pair.CurrentRoundTripTime
	}
	if p.reports.reported.Load() {
		ps.HasRTP = true
		ps.NACKs = p.reports.nacks.Load()
		ps.PLIs = p.reports.plis.Load()
		ps.FractionLost = math.Float64frombits(p.reports.fractionLost.Load())
		ps.PacketsLost = p.reports.packetsLost.Load()
		ps.RTT = time.Duration(p.reports.rtt.Load())
	}
	if ps.RTT <= 0 {
		ps.RTT = time.Duration(iceRTT * float64(time.Second))
	}
	return ps
}
