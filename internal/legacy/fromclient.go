package legacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// client handles the messages of one v2 client.
type client struct {
	h   *Handler
	s   *session.Session
	c   *conn
	log *slog.Logger
}

var (
	errNotAdmin     = errors.New("session is not an admin")
	errNoBroadcast  = errors.New("broadcast is not available")
	errBadResource  = errors.New("unknown resource")
	errNotHost      = errors.New("only admins or the host can give control")
	errUnknownEvent = errors.New("unknown v2 event")
)

// reportable errors come from actions v2 clients did over REST with the
// reference bridge; like it, the client is told with system/error. Refused
// v3 events are only logged, as on /api/ws.
type reportable struct{ err error }

func (r reportable) Error() string { return r.err.Error() }
func (r reportable) Unwrap() error { return r.err }

func report(err error) error {
	if err == nil {
		return nil
	}
	return reportable{err}
}

// handle runs one message of the client.
func (cl *client) handle(data []byte) {
	m, err := parseClient(data)
	if err != nil {
		cl.log.Debug("legacy: malformed message", "err", err)
		return
	}
	defer func() {
		// A bug must cost one message, not the connection.
		if r := recover(); r != nil {
			cl.log.Error("legacy handler panic", "event", m.Event, "panic", fmt.Sprint(r))
		}
	}()
	err = cl.message(m, data)
	var rep reportable
	switch {
	case err == nil:
	case errors.As(err, &rep):
		cl.log.Debug("legacy: action refused", "event", m.Event, "err", err)
		cl.c.send(msgSystem{Event: EventSystemError, Title: titleError, Message: err.Error()})
	default:
		cl.log.Debug("legacy: event refused", "event", m.Event, "err", err)
	}
}

// parseClient decodes a flat v2 message; a v3-style {event, payload}
// envelope is accepted too (its payload fields are read as if flat).
func parseClient(data []byte) (clientMessage, error) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return m, err
	}
	var env struct {
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(data, &env) == nil && len(env.Payload) > 0 && env.Payload[0] == '{' {
		ev := m.Event
		if err := json.Unmarshal(env.Payload, &m); err != nil {
			return m, err
		}
		m.Event = ev
	}
	if m.Event == "" {
		return m, errors.New("no event")
	}
	return m, nil
}

func (cl *client) dispatch(ev types.Event, payload any) error {
	var raw json.RawMessage
	if payload != nil {
		var err error
		if raw, err = json.Marshal(payload); err != nil {
			return err
		}
	}
	return cl.h.opts.Core.Dispatch(cl.s, ev, raw)
}

func (cl *client) message(m clientMessage, data []byte) error {
	switch m.Event {
	case EventClientHeartbeat:
		return nil

	case EventSignalOffer:
		return cl.dispatch(types.EventSignalOffer, types.SignalDescription{SDP: m.SDP})
	case EventSignalAnswer:
		cl.rename(m.DisplayName)
		return cl.dispatch(types.EventSignalAnswer, types.SignalDescription{SDP: m.SDP})
	case EventSignalCandidate:
		var c types.SignalCandidate
		if err := json.Unmarshal([]byte(m.Data), &c); err != nil {
			return fmt.Errorf("candidate data: %w", err)
		}
		return cl.dispatch(types.EventSignalCandidate, c)

	case EventControlRelease:
		return cl.dispatch(types.EventControlRelease, nil)
	case EventControlRequest:
		return cl.controlRequest()
	case EventControlGive:
		return report(cl.give(m.ID))
	case EventControlClipboard:
		return cl.dispatch(types.EventClipboardSet, types.ClipboardData{Text: m.Text})
	case EventControlKeyboard:
		return cl.keyboard(m)

	case EventChatMessage:
		return cl.dispatch(types.EventChatMessage, types.ChatContent{Text: m.Content})
	case EventChatEmote:
		return cl.emote(m.Emote)

	case EventFileTransferRefresh:
		return cl.dispatch(types.EventFileTransferUpdate, nil)

	case EventScreenResolution:
		size := cl.h.opts.Core.ScreenSize()
		cl.c.send(msgResolution{Event: EventScreenResolution, Width: size.Width, Height: size.Height, Rate: size.Rate})
		return nil
	case EventScreenConfigurations:
		if !cl.s.Profile().IsAdmin {
			return report(errNotAdmin)
		}
		cl.c.send(msgConfigurations{Event: EventScreenConfigurations, Configurations: configurations(cl.h.opts.Core.ScreenSizes())})
		return nil
	case EventScreenSet:
		return cl.dispatch(types.EventScreenSet, types.ScreenSize{Width: m.Width, Height: m.Height, Rate: m.Rate})

	case EventBroadcastCreate, EventBroadcastDestroy:
		return report(cl.broadcast(m))

	case EventAdminLock, EventAdminUnlock:
		return report(cl.lock(m.Resource, m.Event == EventAdminLock))
	case EventAdminControl, EventAdminRelease, EventAdminGive:
		return report(cl.adminControl(m))
	case EventAdminKick, EventAdminBan:
		return report(cl.kick(m.ID, m.Event == EventAdminBan))
	case EventAdminMute, EventAdminUnmute:
		return report(cl.mute(m.ID, m.Event == EventAdminMute))
	}
	if strings.HasPrefix(string(m.Event), v3OpenInAppPrefix) {
		return cl.forward(m.Event, data)
	}
	return fmt.Errorf("%w %q", errUnknownEvent, m.Event)
}

// rename takes the v2 display name when the profile has none (the
// reference sets it from signal/answer the same way).
func (cl *client) rename(name string) {
	p := cl.s.Profile()
	if name == "" || p.Name != "" {
		return
	}
	p.Name = name
	if err := cl.h.opts.Sessions.UpdateProfile(cl.s.ID(), p); err != nil {
		cl.log.Debug("legacy: set display name", "err", err)
	}
}

// controlRequest asks for control; v2 tells a requester who has it.
func (cl *client) controlRequest() error {
	if err := cl.dispatch(types.EventControlRequest, nil); err != nil {
		return err
	}
	if host := cl.h.opts.Sessions.Host(); host != nil && host != cl.s {
		cl.c.send(msgID{Event: EventControlRequest, ID: host.ID()})
	}
	return nil
}

// give hands control to target: the host may give its own control, an
// admin anyone's (POST /api/room/control/give).
func (cl *client) give(target string) error {
	m := cl.h.opts.Sessions
	if !cl.s.Profile().CanHost {
		return session.ErrCannotHost
	}
	if !cl.s.Profile().IsAdmin && m.Host() != cl.s {
		return errNotHost
	}
	t, ok := m.Get(target)
	if !ok {
		return session.ErrNotFound
	}
	if err := m.MayHost(t); err != nil {
		return err
	}
	return cl.h.act(actionHost, "", cl.s.ID(), func() error {
		m.SetHost(t)
		return nil
	})
}

// adminControl: take (admin/control), reset (admin/release) and give
// (admin/give) — the admin-only control endpoints.
func (cl *client) adminControl(msg clientMessage) error {
	m := cl.h.opts.Sessions
	if !cl.s.Profile().IsAdmin {
		return errNotAdmin
	}
	switch msg.Event {
	case EventAdminControl:
		return cl.h.act(actionHost, "", cl.s.ID(), func() error {
			m.SetHost(cl.s)
			return nil
		})
	case EventAdminRelease:
		return cl.h.act(actionHost, "", cl.s.ID(), func() error {
			m.SetHost(nil)
			return nil
		})
	default:
		return cl.give(msg.ID)
	}
}

func (cl *client) keyboard(m clientMessage) error {
	var errs []error
	if m.Layout != nil {
		errs = append(errs, cl.dispatch(types.EventKeyboardMap, types.KeyboardMap{Layout: *m.Layout}))
	}
	// Scroll lock has no v3 twin.
	if m.CapsLock != nil || m.NumLock != nil {
		errs = append(errs, cl.dispatch(types.EventKeyboardModifiers, types.KeyboardModifiers{CapsLock: m.CapsLock, NumLock: m.NumLock}))
	}
	return errors.Join(errs...)
}

// emote goes back to the sender and, as send/broadcast with subject
// "emote", to everyone else.
func (cl *client) emote(emote string) error {
	if emote == "" {
		return errors.New("empty emote")
	}
	body, _ := json.Marshal(emote)
	cl.c.send(msgEmote{Event: EventChatEmote, ID: cl.s.ID(), Emote: emote})
	return cl.dispatch(types.EventSendBroadcast, types.SendBroadcast{Subject: "emote", Body: body})
}

func (cl *client) broadcast(m clientMessage) error {
	if !cl.s.Profile().IsAdmin {
		return errNotAdmin
	}
	if cl.h.opts.Broadcast == nil {
		return errNoBroadcast
	}
	if m.Event == EventBroadcastCreate {
		return cl.h.opts.Broadcast.StartBroadcast(m.URL)
	}
	return cl.h.opts.Broadcast.StopBroadcast()
}

// lock maps v2 locks onto room settings (POST /api/room/settings).
func (cl *client) lock(resource string, locked bool) error {
	if !cl.s.Profile().IsAdmin {
		return errNotAdmin
	}
	var fn func(*types.Settings)
	switch resource {
	case resourceControl:
		fn = func(s *types.Settings) { s.LockedControls = locked }
	case resourceLogin:
		fn = func(s *types.Settings) { s.LockedLogins = locked }
	case resourceFileTransfer:
		fn = func(s *types.Settings) {
			s.Plugins = withFlag(s.Plugins, types.PluginFileTransferEnabled, !locked)
		}
	default:
		return fmt.Errorf("%w %q", errBadResource, resource)
	}
	cl.h.opts.Sessions.UpdateSettings(cl.s, fn)
	return nil
}

// kick ends a member's session (its client is told "kicked"); ban also
// refuses further v2 logins from its address.
func (cl *client) kick(id string, ban bool) error {
	m := cl.h.opts.Sessions
	if !cl.s.Profile().IsAdmin {
		return errNotAdmin
	}
	if id == cl.s.ID() {
		return errors.New("cannot kick yourself")
	}
	target, ok := m.Get(id)
	if !ok {
		return session.ErrNotFound
	}
	action := actionKick
	if ban {
		action = actionBan
		if err := cl.h.ban(id, cl.s.ID()); err != nil {
			// Only v2 clients' addresses are known; still kick.
			cl.log.Debug("legacy: ban by address", "target", id, "err", err)
		}
	}
	// A kicked v2 client's own goroutine leaves the clean-up to us, so the
	// session ends once, with the kick named (see ServeHTTP).
	cl.h.setKicking(id, true)
	defer cl.h.setKicking(id, false)
	return cl.h.act(action, id, cl.s.ID(), func() error {
		m.DisconnectConn(target, reasonKick)
		if err := m.Delete(id); err != nil && !errors.Is(err, session.ErrNotFound) {
			return err
		}
		return nil
	})
}

// mute turns the chat plugin's can_send off (on) in the member's profile,
// as the reference bridge does.
func (cl *client) mute(id string, mute bool) error {
	m := cl.h.opts.Sessions
	if !cl.s.Profile().IsAdmin {
		return errNotAdmin
	}
	target, ok := m.Get(id)
	if !ok {
		return session.ErrNotFound
	}
	p := target.Profile()
	p.Plugins = withFlag(p.Plugins, types.PluginChatCanSend, !mute)
	return cl.h.act(actionMute, id, cl.s.ID(), func() error {
		return m.UpdateProfile(id, p)
	})
}

// withFlag returns a copy of a plugins map with key set (the map may be
// shared with readers, so it is never changed in place).
func withFlag(m map[string]any, key string, v bool) map[string]any {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]any{}
	}
	out[key] = v
	return out
}

// forward passes a plugin event on (open-in-app): the v2 message's fields
// become the v3 payload.
func (cl *client) forward(ev Event, data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	if p, ok := fields["payload"]; ok && len(fields) == 2 {
		return cl.h.opts.Core.Dispatch(cl.s, types.Event(ev), p)
	}
	delete(fields, "event")
	var payload any
	if len(fields) > 0 {
		payload = fields
	}
	return cl.dispatch(types.Event(ev), payload)
}
