package integration

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestNetworkOptions connects a viewer with each ICE port strategy and
// checks the server's candidates use the configured ports. With trickle
// (the default) the candidates come as signal/candidate; without it
// (webrtc.icetrickle=false) they are all in the offer and none is sent.
func TestNetworkOptions(t *testing.T) {
	mux := freeUDPPort(t)
	eprLo := 40000 + mux%20000
	for _, tc := range []struct {
		name    string
		opts    map[string]any
		trickle bool
		check   func(port int) bool
	}{
		{"udpmux", map[string]any{"webrtc.udpmux": mux}, true, func(p int) bool { return p == mux }},
		{"epr", map[string]any{"webrtc.epr": fmt.Sprintf("%d-%d", eprLo, eprLo+20)}, true, func(p int) bool { return p >= eprLo && p <= eprLo+20 }},
		{"no trickle", map[string]any{"webrtc.icetrickle": false}, false, func(int) bool { return true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stack.Start(t, tc.opts)
			paint, err := stack.NewPainter(s.Display, 250, 120, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer paint.Close()
			c := login(t, s, "net", "neko")
			cands := c.Subscribe(types.EventSignalCandidate)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			md, err := c.StartMedia(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer md.Close()
			if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 250, 120, 0, 40, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			// Candidates are sent as they are gathered, before the media
			// plays: any trickled one is in the channel by now.
			var trickled, offered []string
		drain:
			for {
				select {
				case raw := <-cands:
					trickled = append(trickled, decode[types.SignalCandidate](t, raw).Candidate)
				default:
					break drain
				}
			}
			for _, l := range strings.Split(md.Provide.SDP, "\n") {
				if c, ok := strings.CutPrefix(strings.TrimSpace(l), "a="); ok && strings.HasPrefix(c, "candidate:") {
					offered = append(offered, c)
				}
			}
			if tc.trickle && len(trickled) == 0 {
				t.Errorf("trickle on: no signal/candidate")
			}
			if !tc.trickle && (len(trickled) != 0 || len(offered) == 0) {
				t.Errorf("trickle off: %d signal/candidate (want none) and %d candidates in the offer (want all)", len(trickled), len(offered))
			}
			for _, c := range append(trickled, offered...) {
				f := strings.Fields(c)
				if len(f) < 6 {
					t.Fatalf("malformed candidate %q", c)
				}
				if f[4] != "127.0.0.1" {
					t.Errorf("candidate address %s, want loopback only (nat1to1=127.0.0.1)", f[4])
				}
				var port int
				fmt.Sscan(f[5], &port)
				if !tc.check(port) {
					t.Errorf("candidate port %d outside the configured ports", port)
				}
			}
		})
	}
}
