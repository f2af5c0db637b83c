package webrtc

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/neko-webrtc/neko/internal/config"
)

// network is the ICE side built once from configuration: the setting
// engine and any shared mux sockets.
type network struct {
	se      webrtc.SettingEngine
	closers []func() error
}

const (
	iceDisconnectedTimeout = 4 * time.Second
	iceFailedTimeout       = 6 * time.Second
	iceKeepaliveInterval   = 2 * time.Second
)

func newNetwork(cfg config.WebRTC, bindLoopback bool, publicIP netip.Addr, tnet transport.Net, log *slog.Logger) (*network, error) {
	n := &network{}
	se := &n.se
	if tnet != nil {
		se.SetNet(tnet)
	}
	se.LoggerFactory = loggerFactory{log: log}
	// mDNS candidates are useless to remote viewers and would send
	// multicast from the server; neko advertises real addresses.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// The cookie exchange (HelloVerifyRequest) proves a client owns its
	// address; here DTLS only runs on a path ICE has already checked with
	// the peer's credentials, so it would only cost a round trip on every
	// join, when many viewers connect at once.
	se.SetDTLSInsecureSkipHelloVerify(true)
	// When a client renegotiates with its own offer (to send its camera
	// or microphone) the server stays the DTLS server it was: Safari on
	// iOS fails the renegotiation ("Failed to set SSL role") if the
	// answer flips the role, as the reference notes.
	if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		return nil, fmt.Errorf("webrtc: dtls role: %w", err)
	}
	// The reference's ICE timeouts: a viewer whose network went away is
	// noticed in 4 s and given up (or restarted, see onFailed) after 6,
	// not pion's 25.
	se.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepaliveInterval)

	var loopback, public []string
	for _, ip := range cfg.NAT1To1 {
		if p := net.ParseIP(ip); p != nil && p.IsLoopback() {
			loopback = append(loopback, ip)
		} else {
			public = append(public, ip)
		}
	}
	// Loopback candidates let a viewer on the same host connect without
	// any LAN interface; asking nat1to1=127.0.0.1 means exactly that, so
	// then only loopback addresses are offered.
	includeLoopback := len(loopback) > 0 || (bindLoopback && len(public) == 0)
	if includeLoopback {
		se.SetIncludeLoopbackCandidate(true)
	}
	loopbackOnly := len(loopback) > 0 && len(public) == 0
	if loopbackOnly {
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if len(public) > 0 {
		se.SetNAT1To1IPs(public, webrtc.ICECandidateTypeHost)
	}
	if len(public) == 0 && publicIP.IsValid() {
		if err := publicIPRule(se, publicIP); err != nil {
			return nil, err
		}
	}
	if cfg.ICELite {
		se.SetLite(true)
	}
	if cfg.EPRMin > 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.EPRMin, cfg.EPRMax); err != nil {
			return nil, fmt.Errorf("webrtc: webrtc.epr: %w", err)
		}
	}
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.UDPMux > 0 {
		var opts []ice.UDPMuxFromPortOption
		if includeLoopback {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		// The mux gathers its own addresses; the engine's filter does not
		// reach it.
		if loopbackOnly {
			opts = append(opts, ice.UDPMuxFromPortWithIPFilter(func(ip net.IP) bool { return ip.IsLoopback() }))
		}
		opts = append(opts, ice.UDPMuxFromPortWithLogger(se.LoggerFactory.NewLogger("udpmux")))
		if tnet != nil {
			opts = append(opts, ice.UDPMuxFromPortWithNet(tnet))
		}
		mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPMux, opts...)
		if err != nil {
			return nil, fmt.Errorf("webrtc: webrtc.udpmux %d: %w", cfg.UDPMux, err)
		}
		se.SetICEUDPMux(mux)
		n.closers = append(n.closers, mux.Close)
	}
	if cfg.TCPMux > 0 {
		var ln net.Listener
		var err error
		if tnet != nil {
			ln, err = tnet.ListenTCP("tcp", &net.TCPAddr{Port: cfg.TCPMux})
		} else {
			ln, err = net.ListenTCP("tcp", &net.TCPAddr{Port: cfg.TCPMux})
		}
		if err != nil {
			n.close()
			return nil, fmt.Errorf("webrtc: webrtc.tcpmux %d: %w", cfg.TCPMux, err)
		}
		// No user-space write buffer (pion's helper adds 4 MiB that drops
		// silently when full): a viewer whose TCP path backs up blocks its
		// own writer, and its bounded queue drops whole frames up to the
		// next keyframe instead.
		mux := ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:       smallSendBuffers{ln},
			Logger:         se.LoggerFactory.NewLogger("tcpmux"),
			ReadBufferSize: 32,
		})
		se.SetICETCPMux(mux)
		n.closers = append(n.closers, mux.Close)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	return n, nil
}

// tcpSendBuffer caps the kernel's send buffer of an ICE-TCP viewer. Left
// to autotuning it grows to megabytes: seconds of video queued where the
// server can neither see nor drop it. With a small one, a viewer that
// cannot keep up fills its own bounded queue instead, which drops to the
// next keyframe (viewerTrack).
const tcpSendBuffer = 128 << 10

type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(tcpSendBuffer)
		_ = tc.SetNoDelay(true)
	}
	return c, nil
}

func (n *network) close() {
	for _, c := range n.closers {
		_ = c()
	}
	n.closers = nil
}

// newAPI builds the pion API for the codecs we send. With est, every peer
// gets a send-side bandwidth estimator (GCC over transport-wide congestion
// control feedback), handed to onBWE while its NewPeerConnection runs.
func newAPI(n *network, video, audio webrtc.RTPCodecCapability, est *config.Estimator, onBWE func(cc.BandwidthEstimator)) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"},
		{Type: "nack", Parameter: "pli"}, {Type: "transport-cc"},
	}
	video.RTCPFeedback = fb
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: video, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("webrtc: register video codec: %w", err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: audio, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("webrtc: register audio codec: %w", err)
	}
	ir := &interceptor.Registry{}
	// Pion's defaults without its NACK and stats interceptors: viewers'
	// NACKs are served from their own history (resend.go), nothing we
	// receive (a microphone's Opus) is NACKed, and the statistics come
	// from the RTCP the peers read (rtcpstats.go) rather than from a look
	// at every packet sent.
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("webrtc: interceptors: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return nil, fmt.Errorf("webrtc: interceptors: %w", err)
	}
	if est != nil {
		initial := est.InitialBitrate
		cci, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
			// No pacer: frames go out as they come (latency first); a
			// viewer that cannot keep up is handled by its bounded queue.
			return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(initial),
				gcc.SendSideBWEPacer(gcc.NewNoOpPacer()), gcc.WithLoggerFactory(n.se.LoggerFactory))
		})
		if err != nil {
			return nil, fmt.Errorf("webrtc: bandwidth estimator: %w", err)
		}
		cci.OnNewPeerConnection(func(_ string, bwe cc.BandwidthEstimator) { onBWE(bwe) })
		// Registered before the header extension: packets pass the
		// extension first (it numbers them), then the estimator.
		ccLog := n.se.LoggerFactory.NewLogger("cc")
		ir.Add(tolerantRTCPFactory{f: cci, onErr: func(err error) { ccLog.Debugf("feedback: %v", err) }})
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
			return nil, fmt.Errorf("webrtc: transport-cc: %w", err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(n.se)), nil
}

// Codec returns the RTP capability for a capture codec name.
func Codec(name string) (webrtc.RTPCodecCapability, error) {
	switch name {
	case "vp8":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, nil
	case "vp9":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"}, nil
	case "h264":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, nil
	case "av1":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}, nil
	case "h265":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000}, nil
	case "opus":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1;stereo=1"}, nil
	case "g722":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}, nil
	case "pcmu":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, nil
	case "pcma":
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, nil
	}
	return webrtc.RTPCodecCapability{}, fmt.Errorf("webrtc: unknown codec %q", name)
}
