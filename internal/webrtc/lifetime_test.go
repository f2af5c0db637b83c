package webrtc

import (
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/pkg/types"
)

// TestUnansweredPeerEnds: an offer nobody answers does not keep a peer
// (and its capture stream) forever: it ends after ConnectTimeout with
// signal/close, or at once when the session's socket goes. The stream is
// released both ways.
func TestUnansweredPeerEnds(t *testing.T) {
	video := &fakeStream{id: "main"}
	m, s, conn := newManagerOpts(t, Options{
		Config: config.WebRTC{NAT1To1: []string{"127.0.0.1"}},
		Videos: []Stream{video}, Audio: &fakeStream{id: "audio"},
		ConnectTimeout: time.Second,
	})

	if err := m.Request(s, types.SignalRequest{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the capture stream acquired", func() bool { return video.viewers() == 1 })
	waitFor(t, "the unanswered peer to end", func() bool { return m.Peers() == 0 })
	// The peer leaves the manager before its signal/close is sent, so the
	// event is waited for rather than read at once.
	waitFor(t, "signal/close for the peer that timed out", func() bool {
		_, ok := conn.lastAfterProvide(types.EventSignalClose)
		return ok
	})
	waitFor(t, "the capture stream released", func() bool { return video.viewers() == 0 })

	// The socket goes before the answer: the peer goes with it.
	if err := m.Request(s, types.SignalRequest{}); err != nil {
		t.Fatal(err)
	}
	m.CloseUnconnected(s)
	if m.Peers() != 0 {
		t.Fatal("an unanswered peer outlived its socket")
	}
	waitFor(t, "the capture stream released", func() bool { return video.viewers() == 0 })
}

// TestLostTransportCloses: a connected viewer whose network goes silent
// (its ICE transport stops answering, nothing is said) is noticed by
// pion's ICE timeouts; the server then sends one ICE-restart offer and,
// with no answer by RestartTimeout, ends the peer with signal/close and
// releases its capture.
func TestLostTransportCloses(t *testing.T) {
	video := &fakeStream{id: "main"}
	m, s, conn := newManagerOpts(t, Options{
		Config: config.WebRTC{NAT1To1: []string{"127.0.0.1"}},
		Videos: []Stream{video}, Audio: &fakeStream{id: "audio"},
		RestartTimeout: time.Second,
	})
	if err := m.Request(s, types.SignalRequest{}); err != nil {
		t.Fatal(err)
	}
	client := joinClient(t, m, s, conn)
	// Stopping the client's ICE agent makes it deaf and mute without a
	// DTLS close or an SCTP abort: what a viewer whose network went away
	// looks like to the server.
	if err := client.SCTP().Transport().ICETransport().Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(iceDisconnectedTimeout + iceFailedTimeout + 10*time.Second)
	for _, ev := range []types.Event{types.EventSignalRestart, types.EventSignalClose} {
		for {
			if _, ok := conn.lastAfterProvide(ev); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s after the viewer's transport went silent", ev)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(t, "the peer to end", func() bool { return m.Peers() == 0 })
	waitFor(t, "the capture stream released", func() bool { return video.viewers() == 0 })
}
