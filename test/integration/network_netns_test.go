package integration

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/pkg/types"
	"github.com/neko-webrtc/neko/test/netns"
	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// TestMediaThroughNetnsLink puts the server's ICE sockets in one network
// namespace and the viewer's in another, joined by a veth pair, and checks
// that video flows over that link (and through a tc limit on it) while
// signalling stays on loopback.
func TestMediaThroughNetnsLink(t *testing.T) {
	// First, so that its cleanup runs after the stack's and the viewer's.
	link := netns.New(t)
	s := stack.StartWith(t, map[string]any{
		// Offer the addresses of the server's namespace, not 127.0.0.1.
		"webrtc.nat1to1": []string{},
	}, stack.Extra{Net: link.ServerNet()})
	paint, err := stack.NewPainter(s.Display, 40, 200, 90)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()

	c := login(t, s, "netns", "neko")
	cands := c.Subscribe(types.EventSignalCandidate)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := c.StartMediaWith(ctx, viewer.MediaOptions{Net: link.ClientNet()})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()

	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 40, 200, 90, 40, 15*time.Second); err != nil {
		t.Fatalf("no frame over the link: %v", err)
	}

	// The server offered its veth address (in the SDP or trickled).
	offered := map[string]bool{}
	for _, ln := range strings.Split(md.Provide.SDP, "\n") {
		if strings.HasPrefix(ln, "a=candidate:") {
			offered[candidateAddr(t, strings.TrimPrefix(strings.TrimSpace(ln), "a="))] = true
		}
	}
drain:
	for {
		select {
		case raw := <-cands:
			offered[candidateAddr(t, decode[types.SignalCandidate](t, raw).Candidate)] = true
		default:
			break drain
		}
	}
	t.Logf("server candidates: %v", offered)
	if !offered[link.ServerIP()] {
		t.Errorf("the server did not offer %s (its veth address)", link.ServerIP())
	}

	local, remote, err := md.SelectedPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("selected pair: viewer %s <-> server %s", local, remote)
	if h, _, _ := net.SplitHostPort(local); h != link.ClientIP() {
		t.Errorf("viewer side of the selected pair is %s, want %s", local, link.ClientIP())
	}
	if h, _, _ := net.SplitHostPort(remote); h != link.ServerIP() {
		t.Errorf("server side of the selected pair is %s, want %s", remote, link.ServerIP())
	}

	// Through a limit (generous: this is about the path, not the rate),
	// video still arrives and the shaped qdisc counts it.
	if err := link.Limit(20000, 64<<10, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := paint.Fill(200, 40, 160); err != nil {
		t.Fatal(err)
	}
	if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 200, 40, 160, 40, 15*time.Second); err != nil {
		t.Fatalf("no frame through the limited link: %v", err)
	}
	if err := md.WaitFrames(30, 15*time.Second); err != nil {
		t.Fatalf("through the limited link: %v", err)
	}
	stats, err := link.QdiscStats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tc -s qdisc show dev %s:\n%s", link.ServerDev(), stats)
	if sent := tbfSentBytes(stats); sent <= 0 {
		t.Errorf("the tbf on %s sent nothing", link.ServerDev())
	}
	// Every video byte the viewer got crossed S's veth: read the viewer's
	// count first, the veth's can only be larger (headers, audio, RTCP).
	_, videoBytes, _, _ := md.Stats()
	out, err := link.InServer("cat", "/sys/class/net/"+link.ServerDev()+"/statistics/tx_bytes")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("tx_bytes %q: %v", out, err)
	}
	t.Logf("viewer received %d bytes of video; %s sent %d bytes", videoBytes, link.ServerDev(), tx)
	if videoBytes == 0 || tx < videoBytes {
		t.Errorf("viewer received %d bytes of video but %s sent only %d bytes", videoBytes, link.ServerDev(), tx)
	}
}

// candidateAddr is the connection address of an ICE candidate line.
func candidateAddr(t *testing.T, cand string) string {
	t.Helper()
	f := strings.Fields(cand)
	if len(f) < 6 {
		t.Fatalf("malformed candidate %q", cand)
	}
	return f[4]
}

var tbfSent = regexp.MustCompile(`(?s)qdisc tbf .*?Sent (\d+) bytes`)

// tbfSentBytes is the "Sent N bytes" of the tbf in tc -s output; -1 if
// there is none.
func tbfSentBytes(out string) int64 {
	m := tbfSent.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}
