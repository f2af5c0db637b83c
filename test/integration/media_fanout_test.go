package integration

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/test/stack"
	"github.com/neko-webrtc/neko/test/viewer"
)

// noise animates random pixels in the bottom-right corner of the screen,
// so the encoder produces full-size frames (about its target bitrate).
func noise(t *testing.T, display string) (stop func()) {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	const w, h = 640, 360
	const band = 90 // rows per PutImage: a request must stay under 256 KiB
	win, _ := xproto.NewWindowId(conn)
	x, y := int16(screen.WidthInPixels-w), int16(screen.HeightInPixels-h)
	if err := xproto.CreateWindowChecked(conn, screen.RootDepth, win, screen.Root, x, y, w, h, 0,
		xproto.WindowClassInputOutput, screen.RootVisual, xproto.CwOverrideRedirect, []uint32{1}).Check(); err != nil {
		t.Fatal(err)
	}
	if err := xproto.MapWindowChecked(conn, win).Check(); err != nil {
		t.Fatal(err)
	}
	gc, _ := xproto.NewGcontextId(conn)
	if err := xproto.CreateGCChecked(conn, gc, xproto.Drawable(win), 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, w*band*4)
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for y := 0; y < h; y += band {
				for i := 0; i < len(buf); i += 8 {
					v := rand.Uint64()
					for j := 0; j < 8; j++ {
						buf[i+j] = byte(v >> (8 * j))
					}
				}
				_ = xproto.PutImageChecked(conn, xproto.ImageFormatZPixmap, xproto.Drawable(win), gc, w, band, 0, int16(y), 0, screen.RootDepth, buf).Check()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		conn.Close()
	}
}

// stallProxy forwards TCP connections to target; while stalled it stops
// reading what the server sends, like a viewer whose network or machine
// stopped taking data.
type stallProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	stall  bool
	conns  []net.Conn

	down, up atomic.Int64 // bytes server→viewer, viewer→server
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		// A fixed window (no autotuning), so the server's socket fills soon.
		_ = s.(*net.TCPConn).SetReadBuffer(256 << 10)
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(countWriter{s, &p.up}, c) }()
		go func() {
			buf := make([]byte, 4096)
			for {
				p.mu.Lock()
				for p.stall {
					p.cond.Wait()
				}
				p.mu.Unlock()
				n, err := s.Read(buf)
				if n > 0 {
					_, werr := c.Write(buf[:n])
					if werr != nil {
						return
					}
					p.down.Add(int64(n))
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

type countWriter struct {
	w net.Conn
	n *atomic.Int64
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (p *stallProxy) setStall(on bool) {
	p.mu.Lock()
	p.stall = on
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *stallProxy) close() {
	p.setStall(false)
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSlowViewerDoesNotStallOthers reproduces the reference's failure with
// one slow viewer: a viewer on ICE-TCP whose connection stops taking data
// (the server's writes to it block). The other viewers keep their frame
// rate and see every change at once; when the slow one resumes, it
// recovers at a keyframe instead of replaying a backlog.
func TestSlowViewerDoesNotStallOthers(t *testing.T) {
	tcpPort := freeTCPPort(t)
	s := stack.Start(t, map[string]any{"webrtc.tcpmux": tcpPort})
	paint, err := stack.NewPainter(s.Display, 220, 30, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer paint.Close()
	proxy := newStallProxy(t, "127.0.0.1:"+strconv.Itoa(tcpPort))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var fast []*viewer.Media
	for _, name := range []string{"fast1", "fast2"} {
		md, err := login(t, s, name, "neko").StartMedia(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer md.Close()
		fast = append(fast, md)
	}
	// The slow viewer reaches the server only over TCP, through the proxy.
	tcpCand := fmt.Sprintf(" %d typ host tcptype passive", tcpPort)
	slow, err := login(t, s, "slow", "neko").StartMediaWith(ctx, viewer.MediaOptions{
		NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeTCP4},
		Candidate: func(c string) string {
			return strings.Replace(c, tcpCand, fmt.Sprintf(" %d typ host tcptype passive", proxy.port()), 1)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	for i, md := range append([]*viewer.Media{slow}, fast...) {
		if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 220, 30, 30, 40, 20*time.Second); err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
	}

	stopNoise := noise(t, s.Display)
	defer stopNoise()
	time.Sleep(time.Second)
	// The fast viewers' frame rate before: this machine (and the race
	// detector) limit it, not the server.
	fps := func(md *viewer.Media, d time.Duration) float64 {
		_, _, _, a := md.Stats()
		time.Sleep(d)
		_, _, _, b := md.Stats()
		return float64(b-a) / d.Seconds()
	}
	baseline := fps(fast[0], 2*time.Second)
	t.Logf("fast viewer before the stall: %.1f fps", baseline)
	proxy.setStall(true)
	_, slowBytes0, _, _ := slow.Stats()

	colours := [][3]uint8{{30, 60, 210}, {20, 200, 40}, {200, 200, 20}, {200, 20, 200}, {20, 200, 200}, {230, 120, 0}}
	for round, col := range colours {
		before := make([]int64, len(fast))
		for i, md := range fast {
			_, _, _, before[i] = md.Stats()
		}
		start := time.Now()
		if err := paint.Fill(col[0], col[1], col[2]); err != nil {
			t.Fatal(err)
		}
		for i, md := range fast {
			// A viewer stalled by the stuck one would never see it; a
			// loaded machine may take a few seconds.
			if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, col[0], col[1], col[2], 40, 8*time.Second); err != nil {
				t.Fatalf("round %d, fast viewer %d, %v after the slow viewer stalled: %v", round, i, time.Since(start), err)
			}
		}
		time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
		for i, md := range fast {
			_, _, _, now := md.Stats()
			if fps := float64(now-before[i]) / time.Since(start).Seconds(); fps < baseline/3 {
				t.Fatalf("round %d: fast viewer %d decodes %.1f fps (%.1f before the stall)", round, i, fps, baseline)
			}
		}
	}
	_, slowBytes1, _, _ := slow.Stats()
	// The proxy had some data in flight when it stalled; after that the
	// slow viewer got nothing.
	if got := slowBytes1 - slowBytes0; got > 1<<20 {
		t.Fatalf("the stalled viewer still received %d bytes", got)
	}

	// Resume: the slow viewer catches up with the present.
	proxy.setStall(false)
	resumed := time.Now()
	last := colours[len(colours)-1]
	// The server's TCP socket is in zero-window probing with exponential
	// back-off by now, so its blocked write returns only at the next probe
	// (several seconds); then the viewer drops its stale queue and restarts
	// at a fresh keyframe at once.
	if _, err := slow.WaitColour(viewer.FrameW/4, viewer.FrameH/4, last[0], last[1], last[2], 40, 25*time.Second); err != nil {
		vp, vb, ap, fr := slow.Stats()
		t.Fatalf("slow viewer %v after resuming: %v (video %d pkts %d bytes, audio %d, frames %d, keyframes %d, lost %d, state %s)", time.Since(resumed), err, vp, vb, ap, fr, slow.Keyframes(), slow.Lost(), slow.PC().ConnectionState())
	}
	t.Logf("the slow viewer shows the present %v after resuming", time.Since(resumed))
	if err := paint.Fill(220, 30, 30); err != nil {
		t.Fatal(err)
	}
	for i, md := range append([]*viewer.Media{slow}, fast...) {
		if _, err := md.WaitColour(viewer.FrameW/4, viewer.FrameH/4, 220, 30, 30, 40, 5*time.Second); err != nil {
			t.Fatalf("viewer %d at the end: %v", i, err)
		}
	}
}
