// Package netns puts a test's WebRTC media on a real, limitable Linux link
// while everything stays in one test process.
//
// New creates two network namespaces, S (server) and C (client), joined by
// a veth pair and holding nothing else but their own loopback. ServerNet and
// ClientNet are pion transport.Net implementations whose sockets are created
// inside S and C: handed to pion's SettingEngine.SetNet they move ICE (and
// therefore all media) onto the veth, while the rest of the process —
// signalling over HTTP/WebSocket on the root namespace's loopback included —
// stays where it is. Limit shapes the server → client direction with tc.
//
// It needs root and iproute2 (ip, tc). Nothing created is reachable from
// outside the machine: S and C have no other interface.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"golang.org/x/sys/unix"
)

// TB is the part of testing.TB a Link needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	Logf(format string, args ...any)
}

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/var/run/netns"

// Link is a veth pair between two fresh network namespaces: S, the
// server's, and C, the client's (viewer's).
type Link struct {
	server, client *Net
	serverDev      string // the veth end in S
	clientDev      string // the veth end in C
	serverIP       string
	clientIP       string
}

var seq atomic.Int32

// New creates the namespaces and the link, and removes them at cleanup.
// Create the Link before anything that uses it (a stack, a viewer) so that
// its cleanup runs after theirs. It fails the test when not root or when
// ip cannot create a namespace.
func New(t TB) *Link {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("netns: network namespaces need root (euid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("netns: the ip command (iproute2) is needed: %v", err)
	}
	sweepStale(t)

	pid := os.Getpid()
	n := int(seq.Add(1))
	// Names are also interface names: at most 15 bytes (IFNAMSIZ-1).
	// "nk" + pid (<= 7 digits) + "x" + n + "s" fits for n < 1000.
	base := fmt.Sprintf("nk%dx%d", pid, n)
	l := &Link{
		server:    &Net{name: base + "s"},
		client:    &Net{name: base + "c"},
		serverDev: base + "s",
		clientDev: base + "c",
		// A /30 per link; the namespaces are isolated so these never
		// meet the host's routes, but distinct ones keep logs readable.
		serverIP: fmt.Sprintf("10.213.%d.%d", pid%256, 4*(n%64)+1),
		clientIP: fmt.Sprintf("10.213.%d.%d", pid%256, 4*(n%64)+2),
	}
	for _, ns := range []string{l.server.name, l.client.name} {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			// Left by an earlier process with the same pid.
			t.Logf("netns: removing stale namespace %s", ns)
			_, _ = run("ip", "netns", "delete", ns)
		}
		if out, err := run("ip", "netns", "add", ns); err != nil {
			l.remove()
			t.Fatalf("netns: cannot create network namespace %s: %v\n%s", ns, err, out)
		}
	}
	t.Cleanup(func() {
		if err := l.remove(); err != nil {
			t.Logf("netns: cleanup: %v", err)
		}
	})
	steps := [][]string{
		// Both ends are created directly in their namespace: the root
		// namespace never sees them.
		{"ip", "link", "add", l.serverDev, "netns", l.server.name, "type", "veth", "peer", "name", l.clientDev, "netns", l.client.name},
		{"ip", "-n", l.server.name, "addr", "add", l.serverIP + "/30", "dev", l.serverDev},
		{"ip", "-n", l.client.name, "addr", "add", l.clientIP + "/30", "dev", l.clientDev},
		{"ip", "-n", l.server.name, "link", "set", "lo", "up"},
		{"ip", "-n", l.client.name, "link", "set", "lo", "up"},
		{"ip", "-n", l.server.name, "link", "set", l.serverDev, "up"},
		{"ip", "-n", l.client.name, "link", "set", l.clientDev, "up"},
	}
	for _, s := range steps {
		if out, err := run(s[0], s[1:]...); err != nil {
			t.Fatalf("netns: %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return l
}

// remove deletes both namespaces; the veth pair goes with them (once no
// socket created in them is open any more).
func (l *Link) remove() error {
	var errs []error
	for _, ns := range []string{l.server.name, l.client.name} {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err != nil {
			continue
		}
		if out, err := run("ip", "netns", "delete", ns); err != nil {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %v: %s", ns, err, bytes.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

// staleName matches the namespaces New creates: nk<pid>x<n>[sc].
var staleName = regexp.MustCompile(`^nk(\d+)x\d+[sc]$`)

// sweepStale deletes namespaces left by test processes that no longer
// exist (killed by a timeout before their cleanup ran).
func sweepStale(t TB) {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		m := staleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // still running
		}
		if out, err := run("ip", "netns", "delete", e.Name()); err != nil {
			t.Logf("netns: cannot remove stale namespace %s: %v: %s", e.Name(), err, bytes.TrimSpace(out))
		} else {
			t.Logf("netns: removed stale namespace %s", e.Name())
		}
	}
}

func run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w (output: %s)", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// ServerNet is the network of S: give it to the server's SettingEngine.
func (l *Link) ServerNet() transport.Net { return l.server }

// ClientNet is the network of C: give it to the viewer's SettingEngine.
func (l *Link) ClientNet() transport.Net { return l.client }

// ServerIP is the address of S's end of the link.
func (l *Link) ServerIP() string { return l.serverIP }

// ClientIP is the address of C's end of the link.
func (l *Link) ClientIP() string { return l.clientIP }

// ServerNS is the name of S (for ip netns exec).
func (l *Link) ServerNS() string { return l.server.name }

// ClientNS is the name of C.
func (l *Link) ClientNS() string { return l.client.name }

// ServerDev is the name of S's veth end, the one Limit shapes.
func (l *Link) ServerDev() string { return l.serverDev }

// ClientDev is the name of C's veth end.
func (l *Link) ClientDev() string { return l.clientDev }

// InServer runs a command inside S (ip netns exec) and returns its
// combined output.
func (l *Link) InServer(name string, args ...string) ([]byte, error) {
	return run("ip", append([]string{"netns", "exec", l.server.name, name}, args...)...)
}

// InClient runs a command inside C; see InServer.
func (l *Link) InClient(name string, args ...string) ([]byte, error) {
	return run("ip", append([]string{"netns", "exec", l.client.name, name}, args...)...)
}

// Limit shapes the server → client direction (the egress of S's veth) with
// a token bucket filter: rateKbit kbit/s, a bucket of burstBytes, and
// packets that would wait longer than latency in the queue dropped. It
// replaces any earlier limit. (netem is not available on every kernel;
// tbf is.)
func (l *Link) Limit(rateKbit int, burstBytes int, latency time.Duration) error {
	if rateKbit <= 0 || burstBytes <= 0 || latency <= 0 {
		return fmt.Errorf("netns: limit %d kbit, burst %d bytes, latency %v: all must be positive", rateKbit, burstBytes, latency)
	}
	lat := fmt.Sprintf("%dus", latency.Microseconds())
	if latency%time.Millisecond == 0 {
		lat = fmt.Sprintf("%dms", latency.Milliseconds())
	}
	_, err := l.InServer("tc", "qdisc", "replace", "dev", l.serverDev, "root", "tbf",
		"rate", fmt.Sprintf("%dkbit", rateKbit), "burst", strconv.Itoa(burstBytes), "latency", lat)
	if err != nil {
		return fmt.Errorf("netns: limit: %w", err)
	}
	return nil
}

// Unlimit removes the limit; without one it does nothing.
func (l *Link) Unlimit() error {
	out, err := l.InServer("tc", "qdisc", "del", "dev", l.serverDev, "root")
	if err != nil {
		s := string(out)
		// The veth's default root qdisc (noqueue) has handle 0.
		if strings.Contains(s, "handle of zero") || strings.Contains(s, "No such file or directory") {
			return nil
		}
		return fmt.Errorf("netns: unlimit: %w", err)
	}
	return nil
}

// QdiscStats is `tc -s qdisc show` of S's veth: what Limit set, with its
// sent/dropped/overlimits counters.
func (l *Link) QdiscStats() (string, error) {
	out, err := l.InServer("tc", "-s", "qdisc", "show", "dev", l.serverDev)
	return string(out), err
}

// Net is a transport.Net whose sockets live in one network namespace.
//
// A network namespace belongs to an OS thread, and a socket keeps the
// namespace of the thread that created it. Every call that creates a
// socket or lists interfaces therefore runs on a fresh goroutine that
// locks its thread, switches that thread into the namespace, does the
// call, and exits still locked, so that the Go runtime discards the
// thread instead of reusing it elsewhere. Everything done with the socket
// afterwards (reads, writes, accepts) may happen on any thread.
//
// Name resolution is not moved: Go's resolver does its lookups on other
// goroutines anyway, and ICE only resolves IP literals here.
type Net struct {
	name string
	std  stdnet.Net // its methods other than the interface ones keep no state
}

var _ transport.Net = (*Net)(nil)

// Name is the namespace's name.
func (n *Net) Name() string { return n.name }

// in runs fn on a thread inside the namespace.
func in[T any](n *Net, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine.
		runtime.LockOSThread()
		var r result
		if err := setns(filepath.Join(netnsDir, n.name)); err != nil {
			r.err = fmt.Errorf("netns %s: %w", n.name, err)
		} else {
			r.v, r.err = fn()
		}
		done <- r
	}()
	r := <-done
	return r.v, r.err
}

func setns(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", path, err)
	}
	return nil
}

// ListenPacket implements transport.Net.
func (n *Net) ListenPacket(network, address string) (net.PacketConn, error) {
	return in(n, func() (net.PacketConn, error) { return n.std.ListenPacket(network, address) })
}

// ListenUDP implements transport.Net.
func (n *Net) ListenUDP(network string, locAddr *net.UDPAddr) (transport.UDPConn, error) {
	return in(n, func() (transport.UDPConn, error) { return n.std.ListenUDP(network, locAddr) })
}

// ListenTCP implements transport.Net.
func (n *Net) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	return in(n, func() (transport.TCPListener, error) { return n.std.ListenTCP(network, laddr) })
}

// Dial implements transport.Net. Happy Eyeballs is off: its racing dials
// would run on other threads, outside the namespace.
func (n *Net) Dial(network, address string) (net.Conn, error) {
	return in(n, func() (net.Conn, error) {
		d := net.Dialer{FallbackDelay: -1}
		return d.Dial(network, address)
	})
}

// DialUDP implements transport.Net.
func (n *Net) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	return in(n, func() (transport.UDPConn, error) { return n.std.DialUDP(network, laddr, raddr) })
}

// DialTCP implements transport.Net.
func (n *Net) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	return in(n, func() (transport.TCPConn, error) { return n.std.DialTCP(network, laddr, raddr) })
}

// ResolveIPAddr implements transport.Net.
func (n *Net) ResolveIPAddr(network, address string) (*net.IPAddr, error) {
	return n.std.ResolveIPAddr(network, address)
}

// ResolveUDPAddr implements transport.Net.
func (n *Net) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	return n.std.ResolveUDPAddr(network, address)
}

// ResolveTCPAddr implements transport.Net.
func (n *Net) ResolveTCPAddr(network, address string) (*net.TCPAddr, error) {
	return n.std.ResolveTCPAddr(network, address)
}

// Interfaces lists the namespace's interfaces and their addresses, read
// afresh on each call (stdnet.NewNet reads them once and caches them).
func (n *Net) Interfaces() ([]*transport.Interface, error) {
	return in(n, func() ([]*transport.Interface, error) {
		s, err := stdnet.NewNet()
		if err != nil {
			return nil, err
		}
		return s.Interfaces()
	})
}

// InterfaceByIndex implements transport.Net.
func (n *Net) InterfaceByIndex(index int) (*transport.Interface, error) {
	ifs, err := n.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifs {
		if ifc.Index == index {
			return ifc, nil
		}
	}
	return nil, fmt.Errorf("%w: index=%d in netns %s", transport.ErrInterfaceNotFound, index, n.name)
}

// InterfaceByName implements transport.Net.
func (n *Net) InterfaceByName(name string) (*transport.Interface, error) {
	ifs, err := n.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifs {
		if ifc.Name == name {
			return ifc, nil
		}
	}
	return nil, fmt.Errorf("%w: %s in netns %s", transport.ErrInterfaceNotFound, name, n.name)
}

// CreateDialer implements transport.Net: the dialer's sockets are created
// in the namespace. Its FallbackDelay is forced to -1 (see Dial).
func (n *Net) CreateDialer(d *net.Dialer) transport.Dialer {
	c := net.Dialer{}
	if d != nil {
		c = *d
	}
	c.FallbackDelay = -1
	return nsDialer{n: n, d: &c}
}

type nsDialer struct {
	n *Net
	d *net.Dialer
}

func (d nsDialer) Dial(network, address string) (net.Conn, error) {
	return in(d.n, func() (net.Conn, error) { return d.d.Dial(network, address) })
}

// CreateListenConfig implements transport.Net: its listeners are created
// in the namespace.
func (n *Net) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	return nsListenConfig{n: n, lc: lc}
}

type nsListenConfig struct {
	n  *Net
	lc *net.ListenConfig
}

func (c nsListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return in(c.n, func() (net.Listener, error) { return c.lc.Listen(ctx, network, address) })
}

func (c nsListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return in(c.n, func() (net.PacketConn, error) { return c.lc.ListenPacket(ctx, network, address) })
}
