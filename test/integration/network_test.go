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
// checks the server's candidates use the configured ports.
func TestNetworkOptions(t *testing.T) {
	mux := freeUDPPort(t)
	eprLo := 40000 + mux%20000
	for _, tc := range []struct {
		name  string
		opts  map[string]any
		check func(port int) bool
	}{
		{"udpmux", map[string]any{"webrtc.udpmux": mux}, func(p int) bool { return p == mux }},
		{"epr", map[string]any{"webrtc.epr": fmt.Sprintf("%d-%d", eprLo, eprLo+20)}, func(p int) bool { return p >= eprLo && p <= eprLo+20 }},
		{"no trickle", map[string]any{"webrtc.icetrickle": false}, func(int) bool { return true }},
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
			for {
				select {
				case raw := <-cands:
					cand := decode[types.SignalCandidate](t, raw)
					f := strings.Fields(cand.Candidate)
					if len(f) < 6 {
						t.Fatalf("malformed candidate %q", cand.Candidate)
					}
					if f[4] != "127.0.0.1" {
						t.Errorf("candidate address %s, want loopback only (nat1to1=127.0.0.1)", f[4])
					}
					var port int
					fmt.Sscan(f[5], &port)
					if !tc.check(port) {
						t.Errorf("candidate port %d outside the configured ports", port)
					}
				default:
					return
				}
			}
		})
	}
}
