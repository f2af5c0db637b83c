package webrtc

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/capture"
)

// upstream handles a track the client sends when its profile has
// can_share_media: its microphone goes to the desktop's microphone, its
// camera to the desktop's webcam. Anything refused is read and dropped
// (pion needs the track drained).
func (p *peer) upstream(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		p.upstreamVideo(t)
		return
	}
	buf := make([]byte, 1500)
	switch {
	case !p.session.Profile().CanShareMedia:
		p.log.Debug("upstream audio refused: the profile lacks can_share_media")
		drainTrack(t)
		return
	case p.m.opts.Microphone == nil:
		p.log.Debug("upstream audio refused: capture.microphone.enabled is off")
		drainTrack(t)
		return
	}
	codec := t.Codec()
	player, err := p.m.opts.Microphone.Open(codec.MimeType, uint8(t.PayloadType()), codec.ClockRate)
	if err != nil {
		if errors.Is(err, capture.ErrUnsupportedCodec) {
			p.log.Warn("upstream audio refused", "reason", err)
		} else {
			p.log.Error("microphone", "err", err)
		}
		drainTrack(t)
		return
	}
	defer player.Close()
	p.log.Info("microphone connected")
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			p.log.Info("microphone disconnected")
			return
		}
		if err := player.WriteRTP(buf[:n]); err != nil {
			p.log.Debug("microphone write", "err", err)
		}
	}
}

// upstreamVideo plays a client's camera into the desktop's webcam.
func (p *peer) upstreamVideo(t *webrtc.TrackRemote) {
	codec := t.Codec()
	if !p.session.Profile().CanShareMedia {
		p.log.Debug("webcam refused: the profile lacks can_share_media")
		drainTrack(t)
		return
	}
	if p.m.opts.Webcam == nil {
		reason := p.m.opts.WebcamError
		if reason == "" {
			reason = "no webcam configured"
		}
		p.log.Warn("webcam refused", "reason", reason)
		drainTrack(t)
		return
	}
	player, err := p.m.opts.Webcam.Open(codec.MimeType, uint8(t.PayloadType()), codec.ClockRate)
	if err != nil {
		// Unsupported codec, device missing or busy, webcam in use by
		// another client.
		p.log.Warn("webcam refused", "reason", err)
		drainTrack(t)
		return
	}
	defer player.Close()
	// The device is freed when the peer closes, not when pion's read
	// ends (it closes the connection in the background): the same client
	// reconnecting would otherwise find its own old stream holding the
	// webcam and be refused. Close may run twice; the webcam's is
	// idempotent.
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.webcam = player
	p.mu.Unlock()
	p.log.Info("webcam connected", "codec", codec.MimeType)
	ssrc := uint32(t.SSRC())
	// The decoder can only start at a keyframe, and the client's first
	// one may have been sent before this pipeline existed: ask for one
	// rather than wait for the encoder's next (browsers send none
	// unasked). A second request a second later covers a lost first one.
	p.requestUpstreamKeyframe(ssrc)
	lastPLI, pending := time.Now(), true
	var loss lossWatch
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			p.log.Info("webcam disconnected")
			return
		}
		now := time.Now()
		// Nothing NACKs what clients send, so a lost packet leaves the
		// depayloader waiting for a keyframe: ask for one (at most once a
		// second) rather than freeze until the client's encoder sends one
		// by itself. Bytes 2-3 of an RTP header are the sequence number.
		if n >= 4 && loss.packet(binary.BigEndian.Uint16(buf[2:4]), now) {
			pending = true
		}
		if pending && now.Sub(lastPLI) >= time.Second {
			p.requestUpstreamKeyframe(ssrc)
			lastPLI, pending = now, false
		}
		if err := player.WriteRTP(buf[:n]); err != nil {
			p.log.Debug("webcam write", "err", err)
		}
	}
}

// lossWait is how long a missing packet may be late before it counts as
// lost: the webcam's jitter buffer waits as long for it (capture/webcam.go).
const lossWait = 100 * time.Millisecond

// lossWatch tells lost packets of an upstream track from late ones by
// their sequence numbers: a gap is a loss only when its packets have not
// arrived within lossWait of the gap being seen. Each open gap keeps its
// own age, so a gap that fills does not lend its age to a newer one.
type lossWatch struct {
	started bool
	highest uint16
	gaps    []seqGap
}

// seqGap is a run of at most 64 missing sequence numbers.
type seqGap struct {
	first   uint16 // the first missing sequence number
	n       uint16 // how many were skipped
	missing uint64 // bit i: first+i has not arrived
	since   time.Time
}

// maxGaps bounds the open gaps: more at once is loss, not reordering.
const maxGaps = 16

// packet records one sequence number and reports whether packets were
// lost. After a loss the open gaps are forgotten: the keyframe asked for
// makes them moot.
func (l *lossWatch) packet(seq uint16, now time.Time) bool {
	if !l.started {
		l.started, l.highest = true, seq
		return false
	}
	switch d := seq - l.highest; {
	case d == 0: // duplicate
	case d < 0x8000: // ahead (wrapping), skipping d-1 packets
		l.highest = seq
		if d > 65 {
			// Reordering never spans that many packets in lossWait.
			l.gaps = l.gaps[:0]
			return true
		}
		if d > 1 {
			l.gaps = append(l.gaps, seqGap{first: seq - d + 1, n: d - 1, missing: ^uint64(0) >> (65 - d), since: now})
		}
	default: // behind: a late packet fills a gap
		if l.fill(seq, now) {
			// Later than the jitter buffer waits: dropped there.
			l.gaps = l.gaps[:0]
			return true
		}
	}
	lost := len(l.gaps) > maxGaps
	for _, g := range l.gaps {
		lost = lost || now.Sub(g.since) > lossWait
	}
	if lost {
		l.gaps = l.gaps[:0]
	}
	return lost
}

// fill records a late packet; it reports whether it came later than
// lossWait after its gap was seen.
func (l *lossWatch) fill(seq uint16, now time.Time) (late bool) {
	for i := range l.gaps {
		g := &l.gaps[i]
		off := seq - g.first
		if off >= g.n {
			continue
		}
		bit := uint64(1) << off
		if g.missing&bit == 0 {
			return false // a duplicate of one that already came
		}
		late = now.Sub(g.since) > lossWait
		if g.missing &^= bit; g.missing == 0 {
			l.gaps = append(l.gaps[:i], l.gaps[i+1:]...)
		}
		return late
	}
	return false
}

// requestUpstreamKeyframe asks the client for a keyframe of the track it
// sends with ssrc (RTCP PLI).
func (p *peer) requestUpstreamKeyframe(ssrc uint32) {
	if err := p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		p.log.Debug("webcam keyframe request", "err", err)
	}
}

// drainTrack reads a refused upstream track until it ends.
func drainTrack(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}
