// Package openinapp is the open-in-app plugin: the host hands a web link to
// the shared app, which opens it (openinapp.open_command URL).
//
// Wire (reference server/internal/plugins/openinapp): on connect the
// server sends openinapp/init {enabled}; the host sends
// openinapp/openlink {text: URL}, or POST /api/openinapp/openlink
// {text: URL} (200 with a JSON null). Only the host may, only http and
// https URLs are opened.
package openinapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/internal/websocket"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Name is the plugin's settings prefix.
const Name = "openinapp"

const (
	// DefaultCommand is the reference's openinapp.open_command default,
	// used when the option is empty.
	DefaultCommand = "xdg-open"
	// DefaultTimeout bounds one run of the command.
	DefaultTimeout = 30 * time.Second
	// maxURL caps the link length.
	maxURL = 8 << 10
	// maxRunning bounds commands in flight; more requests are refused.
	maxRunning = 4
)

var (
	ErrDisabled = errors.New("openinapp is disabled")
	ErrNotHost  = errors.New("only the host can open links")
	ErrBadURL   = errors.New("URL must use http or https scheme")
	ErrBusy     = errors.New("too many links being opened")
)

// Options configure the plugin.
type Options struct {
	Enabled bool
	// Command is split on white space; the URL is appended as the last
	// argument. No shell is involved.
	Command string
	// Display is the X display the command runs on (DISPLAY).
	Display string
	// Timeout kills a command still running after it (0: DefaultTimeout).
	// The command should hand the link to the running app and return, as
	// xdg-open does.
	Timeout time.Duration
	// Context ends running commands when cancelled (nil: never).
	Context  context.Context
	Sessions *session.Manager
	Logger   *slog.Logger
}

// OpenInApp is the plugin.
type OpenInApp struct {
	opts Options
	log  *slog.Logger
	argv []string
	sem  chan struct{}
}

var _ plugins.Plugin = (*OpenInApp)(nil)

// New builds the plugin.
func New(opts Options) *OpenInApp {
	if strings.TrimSpace(opts.Command) == "" {
		opts.Command = DefaultCommand
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	return &OpenInApp{
		opts: opts,
		log:  plugins.Logger(opts.Logger),
		argv: strings.Fields(opts.Command),
		sem:  make(chan struct{}, maxRunning),
	}
}

func (o *OpenInApp) Name() string { return Name }

func (o *OpenInApp) Handlers() map[types.Event]websocket.HandlerFunc {
	return map[types.Event]websocket.HandlerFunc{
		types.EventOpenInAppOpenLink: func(s *session.Session, raw json.RawMessage) error {
			var in types.OpenInAppLink
			if err := json.Unmarshal(raw, &in); err != nil {
				return fmt.Errorf("openinapp: decode: %w", err)
			}
			return o.Open(s, in.Text)
		},
	}
}

func (o *OpenInApp) Routes(mux *http.ServeMux, a *api.API) {
	mux.Handle("POST /api/openinapp/openlink", a.Auth(o.post))
}

func (o *OpenInApp) OnConnect(s *session.Session) {
	s.Send(types.EventOpenInAppInit, types.PluginInit{Enabled: o.opts.Enabled})
}

// Open runs the command with link for s, without waiting for it to end.
func (o *OpenInApp) Open(s *session.Session, link string) error {
	if !o.opts.Enabled {
		return ErrDisabled
	}
	if !s.IsHost() {
		return ErrNotHost
	}
	u, err := CheckURL(link)
	if err != nil {
		return err
	}
	select {
	case o.sem <- struct{}{}:
	default:
		return ErrBusy
	}
	ctx, cancel := context.WithTimeout(o.opts.Context, o.opts.Timeout)
	cmd := exec.CommandContext(ctx, o.argv[0], append(o.argv[1:len(o.argv):len(o.argv)], u)...)
	cmd.Env = withDisplay(os.Environ(), o.opts.Display)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, io.Discard, io.Discard
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		<-o.sem
		return fmt.Errorf("openinapp: start %s: %w", o.argv[0], err)
	}
	o.log.Info("opening link in app", "session_id", s.ID(), "url", u)
	go func() {
		defer func() { cancel(); <-o.sem }()
		if err := cmd.Wait(); err != nil {
			o.log.Warn("open command failed", "command", o.argv[0], "err", err)
		}
	}()
	return nil
}

// CheckURL accepts absolute http and https URLs with a host and returns
// the URL as it will be passed on.
func CheckURL(link string) (string, error) {
	if link == "" || len(link) > maxURL {
		return "", ErrBadURL
	}
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", ErrBadURL
	}
	return u.String(), nil
}

// withDisplay sets DISPLAY in env (when display is known).
func withDisplay(env []string, display string) []string {
	if display == "" {
		return env
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DISPLAY=") {
			out = append(out, kv)
		}
	}
	return append(out, "DISPLAY="+display)
}

// post is POST /api/openinapp/openlink {text}.
func (o *OpenInApp) post(w http.ResponseWriter, r *http.Request) error {
	s := api.SessionFrom(r.Context())
	if !o.opts.Enabled {
		return api.Error(http.StatusForbidden, ErrDisabled.Error())
	}
	if !s.IsHost() {
		return api.Error(http.StatusForbidden, ErrNotHost.Error())
	}
	var in types.OpenInAppLink
	if err := api.Decode(r, &in); err != nil {
		return err
	}
	switch err := o.Open(s, in.Text); {
	case errors.Is(err, ErrBadURL):
		return api.Error(http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrBusy):
		return api.Error(http.StatusTooManyRequests, err.Error())
	case err != nil:
		return &api.HTTPError{Code: http.StatusInternalServerError, Msg: "failed to start open command", Err: err}
	}
	api.WriteJSON(w, http.StatusOK, nil)
	return nil
}
