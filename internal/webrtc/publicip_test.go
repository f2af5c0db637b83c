package webrtc

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/config"
)

func TestFetchPublicIP(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		want       string // "" = an error
	}{
		{"ipv4 with newline", "198.51.100.23\n", 200, "198.51.100.23"},
		{"ipv6", " 2001:db8::7 ", 200, "2001:db8::7"},
		{"mapped ipv4", "::ffff:198.51.100.9", 200, "198.51.100.9"},
		{"server error", "198.51.100.23", 500, ""},
		{"html page", "<html><body>captive portal</body></html>", 200, ""},
		{"empty", "", 200, ""},
		{"loopback", "127.0.0.1", 200, ""},
		{"unspecified", "0.0.0.0", 200, ""},
		{"too long", strings.Repeat("1", 500), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			got, err := fetchPublicIP(context.Background(), srv.Client(), srv.URL)
			switch {
			case c.want == "" && err == nil:
				t.Fatalf("got %s, want an error", got)
			case c.want != "" && err != nil:
				t.Fatalf("error %v, want %s", err, c.want)
			case c.want != "" && got.String() != c.want:
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestFetchPublicIPBounded: a service that never answers costs the
// caller's deadline, not a hung start-up.
func TestFetchPublicIPBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := fetchPublicIP(ctx, srv.Client(), srv.URL); err == nil {
		t.Fatal("no error from a service that never answered")
	}
}

// offerCandidates builds the network from cfg and returns the candidate
// lines of a complete offer.
func offerCandidates(t *testing.T, cfg config.WebRTC, publicIP netip.Addr) []string {
	t.Helper()
	n, err := newNetwork(cfg, true, publicIP, nil, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(n.se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.CreateDataChannel("data", nil); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		t.Fatal("ICE gathering did not complete")
	}
	var lines []string
	for _, l := range strings.Split(pc.LocalDescription().SDP, "\n") {
		if strings.HasPrefix(l, "a=candidate:") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// TestPublicIPOfferedBesideLocal: the public address (from
// webrtc.ip_retrieval_url) is offered as a host candidate beside the
// local ones, on ports of webrtc.epr (the range a NAT or a container
// forwards); an explicit public nat1to1 replaces it.
func TestPublicIPOfferedBesideLocal(t *testing.T) {
	const eprMin, eprMax = 52000, 52100
	pub := netip.MustParseAddr("198.51.100.23")
	count := func(lines []string) (public, local int) {
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 8 || f[2] != "udp" {
				continue
			}
			port, err := strconv.Atoi(f[5])
			if err != nil || port < eprMin || port > eprMax {
				t.Fatalf("candidate port outside webrtc.epr: %s", l)
			}
			if f[4] == pub.String() {
				public++
			} else {
				local++
			}
		}
		return public, local
	}
	lines := offerCandidates(t, config.WebRTC{EPRMin: eprMin, EPRMax: eprMax}, pub)
	if public, local := count(lines); public == 0 || local == 0 {
		t.Fatalf("want candidates at the public and at local addresses; got:\n%s", strings.Join(lines, "\n"))
	}
	lines = offerCandidates(t, config.WebRTC{EPRMin: eprMin, EPRMax: eprMax}, netip.Addr{})
	if public, local := count(lines); public != 0 || local == 0 {
		t.Fatalf("without a public address: %d public and %d local candidates", public, local)
	}
	lines = offerCandidates(t, config.WebRTC{EPRMin: eprMin, EPRMax: eprMax, NAT1To1: []string{"203.0.113.5"}}, pub)
	if public, _ := count(lines); public != 0 || !strings.Contains(strings.Join(lines, "\n"), " 203.0.113.5 ") {
		t.Fatalf("nat1to1 must replace the fetched address:\n%s", strings.Join(lines, "\n"))
	}
}
