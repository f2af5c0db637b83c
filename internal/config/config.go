package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Config is the whole decoded configuration.
type Config struct {
	Log     Log
	Server  Server
	Member  Member
	Session Session
	WebRTC  WebRTC
	Desktop Desktop
	Capture Capture
	Runtime Runtime
	Plugins Plugins
	Legacy  Legacy
}

type Log struct {
	Level   string
	JSON    bool
	Dir     string
	NoColor bool
}

type Server struct {
	Bind       string
	Cert, Key  string
	CORS       []string
	Metrics    bool
	PathPrefix string // always starts and ends with "/"
	PProf      bool
	Proxy      bool
	Static     string
}

type Member struct {
	Provider  string
	Multiuser Multiuser
	File      MemberFile
	Object    MemberObject
}

// MemberFile configures the file member provider.
type MemberFile struct {
	Path string
	Hash bool
}

// MemberObject configures the object member provider.
type MemberObject struct {
	Users []MemberObjectUser
}

// MemberObjectUser is one entry of member.object.users; profile fields it
// leaves out take DefaultUserProfile.
type MemberObjectUser struct {
	Username string              `json:"username"`
	Password string              `json:"password"`
	Profile  types.MemberProfile `json:"profile"`
}

type Multiuser struct {
	AdminPassword string
	UserPassword  string
	AdminProfile  types.MemberProfile
	UserProfile   types.MemberProfile
}

type Cookie struct {
	Enabled    bool
	Name       string
	Expiration time.Duration
	Secure     bool
	HTTPOnly   bool
	Domain     string
	Path       string
}

type Session struct {
	APIToken          string
	File              string
	HeartbeatInterval int
	PrivateMode       bool
	LockedLogins      bool
	LockedControls    bool
	ControlProtection bool
	ImplicitHosting   bool
	InactiveCursors   bool
	MercifulReconnect bool
	Cookie            Cookie
}

type WebRTC struct {
	EPRMin, EPRMax     uint16
	NAT1To1            []string
	ICELite            bool
	ICETrickle         bool
	UDPMux             int
	TCPMux             int
	ICEServersFrontend []types.ICEServer
	ICEServersBackend  []types.ICEServer
	IPRetrievalURL     string
	Estimator          Estimator
}

// Estimator configures bandwidth estimation and automatic quality
// switching (webrtc.estimator.*).
type Estimator struct {
	Enabled, Passive, Debug bool
	InitialBitrate          int
	DiffThreshold           float64
	ReadInterval            time.Duration
	StableDuration          time.Duration
	UnstableDuration        time.Duration
	StalledDuration         time.Duration
	DowngradeBackoff        time.Duration
	UpgradeBackoff          time.Duration
}

type Desktop struct {
	Display           string
	Screen            types.ScreenSize
	FileChooserDialog bool
	Unminimize        bool
	UploadDrop        bool
}

type Capture struct {
	VideoCodec    string
	VideoDisplay  string
	VideoPipeline string // shorthand: the whole pipeline of quality "main"
	// VideoIDs are the qualities in order, the default first;
	// VideoPipelines defines them (empty: one default quality "main").
	VideoIDs       []string
	VideoPipelines map[string]VideoPipeline

	AudioCodec    string
	AudioDevice   string
	AudioPipeline string

	Screencast         bool
	ScreencastRate     string
	ScreencastQuality  string
	ScreencastPipeline string

	BroadcastURL       string
	BroadcastAutostart bool
	BroadcastPipeline  string
	BroadcastPreset    string
	BroadcastAudioKbps int
	BroadcastVideoKbps int

	// Upstream media from clients with can_share_media.
	MicrophoneEnabled bool
	MicrophoneDevice  string // PulseAudio sink the microphone plays into
	WebcamEnabled     bool
	WebcamDevice      string // v4l2loopback device
	WebcamWidth       int
	WebcamHeight      int
}

type Runtime struct {
	URL          string
	App          string
	DevToolsPort int
	Screens      []types.ScreenSize
}

// DefaultUserProfile and DefaultAdminProfile are the multiuser templates
// before member.multiuser.*_profile overrides are applied.
func DefaultUserProfile() types.MemberProfile {
	return types.MemberProfile{
		CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true,
		CanShareMedia: true, CanAccessClipboard: true, SendsInactiveCursor: true,
	}
}

func DefaultAdminProfile() types.MemberProfile {
	p := DefaultUserProfile()
	p.IsAdmin = true
	p.CanSeeInactiveCursors = true
	return p
}

func loadMember(v *viper.Viper) (Member, error) {
	m := Member{Provider: strings.ToLower(v.GetString("member.provider"))}
	switch m.Provider {
	case "multiuser", "file", "object", "noauth":
	default:
		return m, fmt.Errorf("config: member.provider %q: want multiuser, file, object or noauth", m.Provider)
	}
	m.Multiuser = Multiuser{
		AdminPassword: v.GetString("member.multiuser.admin_password"),
		UserPassword:  v.GetString("member.multiuser.user_password"),
		AdminProfile:  DefaultAdminProfile(),
		UserProfile:   DefaultUserProfile(),
	}
	if err := decodeJSON(jsonOption(v, "member.multiuser.admin_profile"), &m.Multiuser.AdminProfile); err != nil {
		return m, fmt.Errorf("config: member.multiuser.admin_profile: %w", err)
	}
	if err := decodeJSON(jsonOption(v, "member.multiuser.user_profile"), &m.Multiuser.UserProfile); err != nil {
		return m, fmt.Errorf("config: member.multiuser.user_profile: %w", err)
	}

	m.File = MemberFile{Path: v.GetString("member.file.path"), Hash: v.GetBool("member.file.hash")}
	if m.Provider == "file" && m.File.Path == "" {
		return m, fmt.Errorf("config: member.file.path is required with member.provider file (e.g. /opt/neko/members.json)")
	}

	// Each user is decoded over the default profile, so a user listed with
	// only a name and password is an ordinary user.
	var users []json.RawMessage
	if err := decodeJSON(jsonOption(v, "member.object.users"), &users); err != nil {
		return m, fmt.Errorf("config: member.object.users: want a list of {username, password, profile}: %w", err)
	}
	for i, raw := range users {
		u := MemberObjectUser{Profile: DefaultUserProfile()}
		if err := json.Unmarshal(raw, &u); err != nil {
			return m, fmt.Errorf("config: member.object.users[%d]: %w", i, err)
		}
		if m.Provider == "object" && (u.Username == "" || u.Password == "") {
			return m, fmt.Errorf("config: member.object.users[%d]: username and password are required", i)
		}
		m.Object.Users = append(m.Object.Users, u)
	}
	return m, nil
}

// jsonOption returns a JSON-valued option as JSON text: environment
// variables and flags hold the text, a YAML file holds the structure
// (admin_profile: {is_admin: true}, users: [- username: …]).
func jsonOption(v *viper.Viper, key string) string {
	switch raw := v.Get(key).(type) {
	case nil:
		return "null"
	case string:
		if strings.TrimSpace(raw) == "" {
			return "null"
		}
		return raw
	default:
		b, err := json.Marshal(raw)
		if err != nil {
			return v.GetString(key)
		}
		return string(b)
	}
}

func loadWebRTC(v *viper.Viper) (WebRTC, error) {
	w := WebRTC{
		NAT1To1:        getStrings(v, "webrtc.nat1to1"),
		ICELite:        v.GetBool("webrtc.icelite"),
		ICETrickle:     v.GetBool("webrtc.icetrickle"),
		UDPMux:         v.GetInt("webrtc.udpmux"),
		TCPMux:         v.GetInt("webrtc.tcpmux"),
		IPRetrievalURL: v.GetString("webrtc.ip_retrieval_url"),
		Estimator: Estimator{
			Enabled:          v.GetBool("webrtc.estimator.enabled"),
			Passive:          v.GetBool("webrtc.estimator.passive"),
			Debug:            v.GetBool("webrtc.estimator.debug"),
			InitialBitrate:   v.GetInt("webrtc.estimator.initial_bitrate"),
			DiffThreshold:    v.GetFloat64("webrtc.estimator.diff_threshold"),
			ReadInterval:     v.GetDuration("webrtc.estimator.read_interval"),
			StableDuration:   v.GetDuration("webrtc.estimator.stable_duration"),
			UnstableDuration: v.GetDuration("webrtc.estimator.unstable_duration"),
			StalledDuration:  v.GetDuration("webrtc.estimator.stalled_duration"),
			DowngradeBackoff: v.GetDuration("webrtc.estimator.downgrade_backoff"),
			UpgradeBackoff:   v.GetDuration("webrtc.estimator.upgrade_backoff"),
		},
	}
	if e := w.Estimator; e.Enabled {
		switch {
		case e.InitialBitrate <= 0:
			return w, fmt.Errorf("config: webrtc.estimator.initial_bitrate %d: want a positive bit rate", e.InitialBitrate)
		case e.DiffThreshold < 0 || e.DiffThreshold >= 1:
			return w, fmt.Errorf("config: webrtc.estimator.diff_threshold %v: want 0 <= x < 1", e.DiffThreshold)
		case e.ReadInterval <= 0:
			return w, fmt.Errorf("config: webrtc.estimator.read_interval %v: want a positive duration", e.ReadInterval)
		}
	}
	if epr := v.GetString("webrtc.epr"); epr != "" {
		lo, hi, ok := strings.Cut(epr, "-")
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		if !ok || err1 != nil || err2 != nil || a == 0 || a > b {
			return w, fmt.Errorf("config: webrtc.epr %q: want MIN-MAX, e.g. 59000-59100", epr)
		}
		w.EPRMin, w.EPRMax = uint16(a), uint16(b)
	}
	for _, p := range []struct {
		name string
		val  int
	}{{"webrtc.udpmux", w.UDPMux}, {"webrtc.tcpmux", w.TCPMux}} {
		if p.val < 0 || p.val > 65535 {
			return w, fmt.Errorf("config: %s %d out of range", p.name, p.val)
		}
	}
	var err error
	// A JSON string (flag, environment) or, in a config file, a YAML list
	// as the reference's documentation writes it.
	if w.ICEServersFrontend, err = parseICEServers(jsonOption(v, "webrtc.iceservers.frontend")); err != nil {
		return w, fmt.Errorf("config: webrtc.iceservers.frontend: %w", err)
	}
	if w.ICEServersBackend, err = parseICEServers(jsonOption(v, "webrtc.iceservers.backend")); err != nil {
		return w, fmt.Errorf("config: webrtc.iceservers.backend: %w", err)
	}
	return w, nil
}

// parseICEServers accepts the browser's RTCIceServer shape, with urls as a
// list or a single string.
func parseICEServers(s string) ([]types.ICEServer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var raw []struct {
		URLs       json.RawMessage `json:"urls"`
		URL        string          `json:"url"`
		Username   string          `json:"username"`
		Credential string          `json:"credential"`
	}
	if err := decodeJSON(s, &raw); err != nil {
		return nil, err
	}
	out := make([]types.ICEServer, 0, len(raw))
	for i, r := range raw {
		srv := types.ICEServer{Username: r.Username, Credential: r.Credential}
		if len(r.URLs) > 0 {
			var one string
			if json.Unmarshal(r.URLs, &one) == nil {
				srv.URLs = []string{one}
			} else if err := json.Unmarshal(r.URLs, &srv.URLs); err != nil {
				return nil, fmt.Errorf("server %d: urls: %w", i, err)
			}
		}
		if r.URL != "" {
			srv.URLs = append(srv.URLs, r.URL)
		}
		if len(srv.URLs) == 0 {
			return nil, fmt.Errorf("server %d has no urls", i)
		}
		out = append(out, srv)
	}
	return out, nil
}

// decodeJSON decodes exactly one JSON value; trailing data is an error.
func decodeJSON(s string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("invalid JSON: trailing data")
	}
	return nil
}

// ParseScreen parses WIDTHxHEIGHT[@RATE]; the rate defaults to 30.
func ParseScreen(s string) (types.ScreenSize, error) {
	size, rate, hasRate := strings.Cut(strings.TrimSpace(s), "@")
	ws, hs, ok := strings.Cut(size, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 64 || h < 64 || w > 8192 || h > 8192 {
		return types.ScreenSize{}, fmt.Errorf("%q: want WIDTHxHEIGHT@RATE, e.g. 1280x720@30", s)
	}
	r := 30
	if hasRate {
		f, err := strconv.ParseFloat(rate, 64)
		if err != nil || f < 1 || f > 240 {
			return types.ScreenSize{}, fmt.Errorf("%q: rate must be 1-240", s)
		}
		r = int(f + 0.5)
	}
	return types.ScreenSize{Width: w, Height: h, Rate: r}, nil
}
