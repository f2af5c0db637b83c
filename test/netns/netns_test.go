package netns

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUDPEchoAcrossLink sends a datagram from C to S over the veth and
// back.
func TestUDPEchoAcrossLink(t *testing.T) {
	l := New(t)
	srv, err := l.ServerNet().ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(l.ServerIP())})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := l.ClientNet().ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	go func() {
		buf := make([]byte, 1500)
		_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := srv.ReadFromUDP(buf)
		if err != nil {
			return
		}
		_, _ = srv.WriteToUDP(append([]byte("echo "), buf[:n]...), from)
	}()
	if _, err := cli.WriteTo([]byte("ping"), srv.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = cli.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := cli.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no echo from %v: %v", srv.LocalAddr(), err)
	}
	if got := string(buf[:n]); got != "echo ping" {
		t.Fatalf("echo %q", got)
	}
	if from.IP.String() != l.ServerIP() {
		t.Fatalf("echo from %v, want %s", from, l.ServerIP())
	}
}

// TestTCPAcrossLink connects through CreateDialer (C) to a listener from
// CreateListenConfig (S), and checks the peer addresses are the link's.
func TestTCPAcrossLink(t *testing.T) {
	l := New(t)
	ln, err := l.ServerNet().CreateListenConfig(&net.ListenConfig{}).Listen(context.Background(), "tcp4", net.JoinHostPort(l.ServerIP(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- c.RemoteAddr()
		_, _ = c.Write([]byte("hi"))
		c.Close()
	}()
	c, err := l.ClientNet().CreateDialer(&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q: %v", buf, err)
	}
	if ra := (<-accepted).(*net.TCPAddr); ra.IP.String() != l.ClientIP() {
		t.Fatalf("server saw %v, want %s", ra, l.ClientIP())
	}
}

// TestClientIsolatedFromRootLoopback: a UDP socket on the root
// namespace's 127.0.0.1 receives from the root namespace, never from C.
func TestClientIsolatedFromRootLoopback(t *testing.T) {
	l := New(t)
	root, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	cli, err := l.ClientNet().DialUDP("udp4", nil, root.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for i := 0; i < 3; i++ {
		// Errors are fine (C's loopback answers port unreachable).
		_, _ = cli.Write([]byte("from C"))
	}
	// Control: the same address from the root namespace does arrive, so
	// the silence below means isolation, not a broken test.
	ctl, err := net.DialUDP("udp4", nil, root.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if _, err := ctl.Write([]byte("from root")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	for {
		_ = root.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := root.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			t.Fatal(err)
		}
		switch string(buf[:n]) {
		case "from C":
			t.Fatal("a socket of C reached the root namespace's 127.0.0.1")
		case "from root":
		default:
			t.Fatalf("unexpected datagram %q", buf[:n])
		}
	}
}

// TestInterfaces: each side sees its loopback and its veth end, nothing
// of the host.
func TestInterfaces(t *testing.T) {
	l := New(t)
	host, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, nt *Net, dev, ip string) {
		t.Helper()
		ifs, err := nt.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ifc := range ifs {
			names = append(names, ifc.Name)
		}
		t.Logf("%s interfaces: %v", name, names)
		if len(ifs) != 2 {
			t.Errorf("%s: interfaces %v, want lo and %s", name, names, dev)
		}
		for _, h := range host {
			if h.Name != "lo" && strings.Contains(" "+strings.Join(names, " ")+" ", " "+h.Name+" ") {
				t.Errorf("%s lists the host's interface %s", name, h.Name)
			}
		}
		ifc, err := nt.InterfaceByName(dev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == ip {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s has %v, want %s", name, dev, addrs, ip)
		}
		if byIdx, err := nt.InterfaceByIndex(ifc.Index); err != nil || byIdx.Name != dev {
			t.Errorf("%s: InterfaceByIndex(%d) = %v, %v", name, ifc.Index, byIdx, err)
		}
		if _, err := nt.InterfaceByName("nosuchif0"); err == nil {
			t.Errorf("%s: InterfaceByName(nosuchif0) found something", name)
		}
	}
	check("S", l.server, l.ServerDev(), l.ServerIP())
	check("C", l.client, l.ClientDev(), l.ClientIP())
}

// TestLimit sets a tbf on S's veth and removes it.
func TestLimit(t *testing.T) {
	l := New(t)
	if err := l.Unlimit(); err != nil {
		t.Fatalf("unlimit without a limit: %v", err)
	}
	if err := l.Limit(800, 10000, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	out, err := l.InServer("tc", "-s", "qdisc", "show", "dev", l.ServerDev())
	if err != nil {
		t.Fatal(err)
	}
	line := qdiscLine(string(out), "tbf")
	if line == "" || !strings.Contains(line, "rate 800Kbit") || !strings.Contains(line, "lat 50ms") {
		t.Fatalf("after Limit, tc -s qdisc show:\n%s", out)
	}
	// Replacing works too.
	if err := l.Limit(2000, 20000, 1500*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if s, err := l.QdiscStats(); err != nil || !strings.Contains(qdiscLine(s, "tbf"), "rate 2Mbit") {
		t.Fatalf("after second Limit (%v):\n%s", err, s)
	}
	if err := l.Unlimit(); err != nil {
		t.Fatal(err)
	}
	out, err = l.InServer("tc", "-s", "qdisc", "show", "dev", l.ServerDev())
	if err != nil {
		t.Fatal(err)
	}
	if qdiscLine(string(out), "tbf") != "" {
		t.Fatalf("after Unlimit, tc -s qdisc show:\n%s", out)
	}
	if err := l.Unlimit(); err != nil {
		t.Fatalf("second unlimit: %v", err)
	}
	if err := l.Limit(0, 1, time.Second); err == nil {
		t.Fatal("Limit(0, …) accepted")
	}
}

// TestThreadsNotReused: after many calls into a namespace, every thread
// goroutines run on is still in the root namespace.
func TestThreadsNotReused(t *testing.T) {
	l := New(t)
	self, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		c, err := l.ServerNet().ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := map[string]int{}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns, err := os.Readlink("/proc/thread-self/ns/net")
			if err != nil || ns != self {
				mu.Lock()
				bad[ns]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("goroutines ran in other namespaces than %s: %v", self, bad)
	}
}

// TestCleanup: the namespaces are gone once the test that made them ends.
func TestCleanup(t *testing.T) {
	var l *Link
	t.Run("make", func(t *testing.T) { l = New(t) })
	for _, ns := range []string{l.ServerNS(), l.ClientNS()} {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); !os.IsNotExist(err) {
			t.Errorf("namespace %s still there after cleanup (%v)", ns, err)
		}
	}
	if _, err := l.ServerNet().ListenUDP("udp4", &net.UDPAddr{}); err == nil {
		t.Error("ListenUDP in a removed namespace succeeded")
	}
}

// qdiscLine is the line of `tc qdisc show` output for kind, or "".
func qdiscLine(out, kind string) string {
	for _, ln := range strings.Split(out, "\n") {
		if f := strings.Fields(ln); len(f) > 1 && f[0] == "qdisc" && f[1] == kind {
			return ln
		}
	}
	return ""
}
