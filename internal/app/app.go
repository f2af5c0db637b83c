// Package app builds every manager from the configuration and wires them
// together in order; it is the only package that knows them all.
package app

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pion/transport/v5"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/capture"
	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/desktop"
	"github.com/neko-webrtc/neko/internal/member"
	"github.com/neko-webrtc/neko/internal/runtime"
	"github.com/neko-webrtc/neko/internal/server"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/webrtc"
	"github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Options are what the binary passes in besides the configuration.
type Options struct {
	Config  *config.Config
	Client  fs.FS // the built web client
	Version string
	Logger  *slog.Logger
	// Ready, if set, is called once the server listens.
	Ready func(Info)
	// Net, if set, is the network ICE uses instead of the host's. Tests
	// only: they put the media path into a network namespace
	// (test/netns).
	Net transport.Net
	// WebcamFrames, if set, receives the frames decoded from clients'
	// webcams instead of capture.webcam.device. Tests only: machines
	// without the v4l2loopback module have no device, and tests check
	// the frames themselves. capture.webcam.enabled and the device's
	// existence are still required.
	WebcamFrames func(frame []byte)
}

// Info describes a started server.
type Info struct {
	URL     string // how this machine reaches the server
	Display string // the X display in use
	// PulseServer is the embedded desktop's PulseAudio server ("" when
	// desktop.display is given).
	PulseServer string
}

// App is a running neko.
type App struct {
	opts Options
	cfg  *config.Config
	log  *slog.Logger

	runtime  *runtime.Runtime
	desktop  *desktop.Desktop
	video    *capture.Videos // the qualities; Restart after a resize
	audio    *capture.Stream
	cast     *capture.Screencast // the JPEG screencast
	rtmp     *capture.Broadcast  // the RTMP broadcast
	sessions *session.Manager
	webrtc   *webrtc.Manager
	server   *server.Server
	listener net.Listener
}

// Run starts everything, serves until ctx ends, then stops in reverse
// order.
func Run(ctx context.Context, opts Options) (err error) {
	a := &App{opts: opts, cfg: opts.Config, log: opts.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	defer a.shutdown()
	if err := a.start(ctx); err != nil {
		return err
	}
	return a.server.Serve(ctx)
}

func (a *App) start(ctx context.Context) error {
	cfg := a.cfg
	// Bind first: the embedded browser's start page is served by us, so
	// its URL (port included) must be known before the desktop starts.
	ln, err := net.Listen("tcp", cfg.Server.Bind)
	if err != nil {
		return fmt.Errorf("app: listen on %s (server.bind): %w", cfg.Server.Bind, err)
	}
	a.listener = ln
	// The public address is asked for while the desktop starts.
	publicIP := a.fetchPublicIP(ctx)
	local := localURL(ln.Addr().(*net.TCPAddr), cfg.Server.Cert != "", cfg.Server.PathPrefix)
	display := cfg.Desktop.Display
	pulseServer := ""
	if display == "" {
		// No display given: run our own desktop.
		a.runtime, err = runtime.New(runtime.Options{
			Screen:       runtime.Screen{Width: cfg.Desktop.Screen.Width, Height: cfg.Desktop.Screen.Height, Rate: cfg.Desktop.Screen.Rate},
			Screens:      toRuntimeScreens(cfg.Runtime.Screens),
			URL:          a.appURL(local),
			AppCommand:   strings.Fields(cfg.Runtime.App),
			DevToolsPort: cfg.Runtime.DevToolsPort,
			Logger:       a.log.With("component", "runtime"),
		})
		if err != nil {
			return fmt.Errorf("app: embedded desktop: %w", err)
		}
		a.log.Info("starting embedded desktop (no desktop.display given)")
		if err := a.runtime.StartDesktop(ctx); err != nil {
			return fmt.Errorf("app: embedded desktop: %w", err)
		}
		display = a.runtime.Display()
		pulseServer = a.runtime.PulseServer()
	}
	captureDisplay := cfg.Capture.VideoDisplay
	if captureDisplay == "" {
		captureDisplay = display
	}

	if a.desktop, err = desktop.Open(ctx, desktop.Options{Display: display, Logger: a.log.With("component", "desktop")}); err != nil {
		return fmt.Errorf("app: desktop %s: %w", display, err)
	}

	if err := a.newMedia(captureDisplay, pulseServer); err != nil {
		return err
	}

	a.sessions = session.New(session.Options{
		Settings: types.Settings{
			PrivateMode:       cfg.Session.PrivateMode,
			LockedLogins:      cfg.Session.LockedLogins,
			LockedControls:    cfg.Session.LockedControls,
			ControlProtection: cfg.Session.ControlProtection,
			ImplicitHosting:   cfg.Session.ImplicitHosting,
			InactiveCursors:   cfg.Session.InactiveCursors,
			MercifulReconnect: cfg.Session.MercifulReconnect,
			HeartbeatInterval: cfg.Session.HeartbeatInterval,
		},
		APIToken: cfg.Session.APIToken,
		File:     cfg.Session.File,
		Logger:   a.log.With("component", "session"),
	})
	if err := a.sessions.Restore(); err != nil {
		return err
	}
	// A new host must not inherit keys or buttons the old one still held.
	a.sessions.OnHostChanged(func(host, prev *session.Session) {
		if err := a.desktop.ResetKeys(); err != nil {
			a.log.Warn("release held keys", "err", err)
		}
	})
	dialogInit := a.wireDesktop()

	cursorImage, pointer := a.cursorOptions()
	mic, webcam, webcamErr := a.upstream(pulseServer)
	a.webrtc, err = webrtc.New(webrtc.Options{
		Config:       cfg.WebRTC,
		BindLoopback: isLoopbackBind(cfg.Server.Bind),
		PublicIP:     <-publicIP,
		VideoCodec:   cfg.Capture.VideoCodec,
		AudioCodec:   cfg.Capture.AudioCodec,
		Videos:       a.videoStreams(),
		Audio:        a.audio,
		FPS:          cfg.Desktop.Screen.Rate,
		Sessions:     a.sessions,
		Desktop:      a.desktop,
		Microphone:   mic,
		Webcam:       webcam,
		WebcamError:  webcamErr,
		Cursor:       cursorImage,
		Pointer:      pointer,
		Net:          a.opts.Net,
		Logger:       a.log.With("component", "webrtc"),
	})
	if err != nil {
		return err
	}
	a.wireCursor()
	// A connected peer outlives its session's socket (the reference keeps
	// it: a client whose socket reconnects keeps its picture); it ends
	// with its transport, a new request, or the session. An offer that
	// was never answered ends with the socket.
	a.sessions.OnDisconnected(a.webrtc.CloseUnconnected)
	a.sessions.OnDeleted(a.webrtc.Close)
	// An admin's disconnect ends the media too (the reference destroys
	// both peers).
	a.sessions.OnKicked(a.webrtc.Close)
	// Private mode: non-admins keep their peers but get no media (paused,
	// as in the reference); the session manager ends a non-admin's
	// control.
	a.sessions.OnSettingsChanged(func(prev, next types.Settings) {
		if prev.PrivateMode == next.PrivateMode {
			return
		}
		for _, s := range a.sessions.List() {
			a.webrtc.SyncPaused(s)
		}
	})
	a.sessions.OnProfileChanged(func(s *session.Session, _, next types.MemberProfile) {
		a.webrtc.SyncPaused(s)
		// A profile that may no longer watch ends the media a second
		// later (the reference's delay: the client has the profile
		// change first), whether or not the peer has connected yet.
		if !next.CanWatch || !next.CanLogin || !next.CanConnect {
			time.AfterFunc(time.Second, func() {
				if p := s.Profile(); !p.CanWatch || !p.CanLogin || !p.CanConnect {
					a.webrtc.End(s)
				}
			})
		}
	})

	pluginEvents, pluginInit, pluginRoutes, err := a.plugins(ctx, display)
	if err != nil {
		return err
	}

	reg := a.newRegistry()
	ws := websocket.New(ctx, websocket.Options{
		Sessions: a.sessions,
		Desktop:  a.desktop,
		WebRTC:   a.webrtc,
		Screen: func() types.ScreenSize {
			w, h, r, err := a.desktop.ScreenSize()
			if err != nil {
				return cfg.Desktop.Screen
			}
			return types.ScreenSize{Width: w, Height: h, Rate: r}
		},
		Screens:           a.screenSizes,
		Videos:            v3Videos(a.webrtc.VideoIDs()),
		Broadcast:         roomMedia{cast: a.cast, rtmp: a.rtmp}.BroadcastStatus,
		ScreencastEnabled: cfg.Capture.Screencast,
		OriginPatterns:    originPatterns(cfg.Server.CORS),
		CookieName:        cfg.Session.Cookie.Name,
		DisconnectGrace:   disconnectGrace,
		Extra:             pluginEvents,
		OnConnect:         append(pluginInit, dialogInit),
		Metrics:           websocket.NewMetrics(reg),
		Logger:            a.log.With("component", "websocket"),
	})

	members, err := member.FromConfig(cfg.Member)
	if err != nil {
		return fmt.Errorf("app: member provider: %w", err)
	}
	if cfg.Legacy.Enabled {
		pluginRoutes = append(pluginRoutes, a.legacyRoutes(ctx, ws, members))
	}
	restAPI := api.New(api.Options{
		Sessions: a.sessions,
		Members:  members,
		Cookie:   cfg.Session.Cookie,
		Proxy:    cfg.Server.Proxy,
		Desktop:  apiDesktop{a.desktop, captureDisplay},
		Media:    roomMedia{cast: a.cast, rtmp: a.rtmp},
		Extra:    pluginRoutes,
		Logger:   a.log.With("component", "api"),
	})

	if a.server, err = server.New(server.Options{
		Config:    cfg.Server,
		Client:    a.opts.Client,
		API:       restAPI,
		WebSocket: ws,
		Registry:  reg,
		Listener:  ln,
		Logger:    a.log.With("component", "http"),
	}); err != nil {
		return err
	}
	if err := a.server.Listen(); err != nil {
		return err
	}
	if a.runtime != nil {
		if err := a.runtime.StartApp(ctx); err != nil {
			return fmt.Errorf("app: start browser: %w", err)
		}
	}
	a.log.Info("neko is ready", "url", local, "display", display)
	if a.opts.Ready != nil {
		a.opts.Ready(Info{URL: local, Display: display, PulseServer: pulseServer})
	}
	return nil
}

func (a *App) appURL(local string) string {
	if a.cfg.Runtime.URL != "" {
		return a.cfg.Runtime.URL
	}
	return local + "start/"
}

// localURL is how this machine reaches the server (the printed URL).
func localURL(addr *net.TCPAddr, tls bool, prefix string) string {
	host := "127.0.0.1"
	if !addr.IP.IsUnspecified() && !addr.IP.IsLoopback() {
		host = addr.IP.String()
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(addr.Port)), Path: prefix}
	return u.String()
}

func (a *App) shutdown() {
	if a.server == nil && a.listener != nil {
		_ = a.listener.Close() // start failed before the server took it
	}
	if a.webrtc != nil {
		a.webrtc.Shutdown()
	}
	if a.video != nil {
		a.video.Close()
	}
	if a.audio != nil {
		a.audio.Close()
	}
	if a.cast != nil {
		a.cast.Close()
	}
	if a.rtmp != nil {
		a.rtmp.Close()
	}
	if a.desktop != nil {
		_ = a.desktop.Close()
	}
	if a.runtime != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.runtime.Stop(ctx); err != nil {
			a.log.Warn("stop embedded desktop", "err", err)
		}
	}
}

func isLoopbackBind(bind string) bool {
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// disconnectGrace is how long a session whose socket dropped (no close)
// stays connected, waiting for the client to come back: the reference's
// 5 s.
const disconnectGrace = 5 * time.Second

// originPatterns turns server.cors origins into the host patterns the
// WebSocket library matches ("*" allows any origin).
func originPatterns(cors []string) []string {
	var out []string
	for _, o := range cors {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		} else {
			out = append(out, o)
		}
	}
	return out
}

func toRuntimeScreens(in []types.ScreenSize) []runtime.Screen {
	out := make([]runtime.Screen, 0, len(in))
	for _, s := range in {
		out = append(out, runtime.Screen{Width: s.Width, Height: s.Height, Rate: s.Rate})
	}
	return out
}

// v3Videos lists the qualities for v3 clients: the legacy one (cursor
// drawn in) is for v2 clients only.
func v3Videos(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != capture.LegacyID {
			out = append(out, id)
		}
	}
	return out
}
