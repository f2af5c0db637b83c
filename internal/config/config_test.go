package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	return loadWithDefaults(t, args, env, nil)
}

// loadWithDefaults is load with default config file locations (none in
// the other tests: the machine's /etc/neko must not leak in).
func loadWithDefaults(t *testing.T, args []string, env map[string]string, defaults []string) (*Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	v := viper.New()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	if err := RegisterFlags(fs, v); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := ReadFile(v, defaults); err != nil {
		return nil, err
	}
	return Load(v)
}

func TestDefaults(t *testing.T) {
	t.Setenv("DISPLAY", "")
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Bind != "127.0.0.1:8080" || c.Server.PathPrefix != "/" || !c.Server.Metrics {
		t.Errorf("server defaults: %+v", c.Server)
	}
	if c.Member.Provider != "multiuser" || c.Member.Multiuser.AdminPassword != "admin" || c.Member.Multiuser.UserPassword != "neko" {
		t.Errorf("member defaults: %+v", c.Member)
	}
	if !c.Member.Multiuser.AdminProfile.IsAdmin || c.Member.Multiuser.UserProfile.IsAdmin || !c.Member.Multiuser.UserProfile.CanHost {
		t.Errorf("profile defaults: %+v", c.Member.Multiuser)
	}
	s := c.Session
	if s.HeartbeatInterval != 10 || !s.MercifulReconnect || !s.Cookie.Enabled || s.Cookie.Name != "NEKO_SESSION" ||
		s.Cookie.Expiration != 24*time.Hour || !s.Cookie.Secure || !s.Cookie.HTTPOnly {
		t.Errorf("session defaults: %+v", s)
	}
	if c.Desktop.Screen.Width != 1280 || c.Desktop.Screen.Height != 720 || c.Desktop.Screen.Rate != 30 || c.Desktop.Display != "" {
		t.Errorf("desktop defaults: %+v", c.Desktop)
	}
	if c.Capture.VideoCodec != "vp8" || c.Capture.AudioCodec != "opus" || c.Capture.AudioDevice != "audio_output.monitor" {
		t.Errorf("capture defaults: %+v", c.Capture)
	}
	if !c.WebRTC.ICETrickle || c.WebRTC.ICELite || c.WebRTC.EPRMin != 0 {
		t.Errorf("webrtc defaults: %+v", c.WebRTC)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "neko.yaml")
	yaml := "server:\n  bind: 0.0.0.0:1\n  path_prefix: /neko\nsession:\n  heartbeat_interval: 7\nwebrtc:\n  epr: 59000-59100\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", file, "--server.bind", "127.0.0.1:3"},
		map[string]string{
			"NEKO_SERVER_BIND": "127.0.0.1:2", "NEKO_SESSION_HEARTBEAT_INTERVAL": "5",
			"NEKO_WEBRTC_NAT1TO1": "10.0.0.1, 127.0.0.1", "NEKO_MEMBER_MULTIUSER_USER_PROFILE": `{"can_host": false}`,
			"NEKO_WEBRTC_ICESERVERS_FRONTEND": `[{"urls":"stun:stun.example:3478"},{"urls":["turn:t:3478"],"username":"u","credential":"c"}]`,
		})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Bind != "127.0.0.1:3" {
		t.Errorf("flag must win: bind %q", c.Server.Bind)
	}
	if c.Session.HeartbeatInterval != 5 {
		t.Errorf("env must beat file: heartbeat %d", c.Session.HeartbeatInterval)
	}
	if c.Server.PathPrefix != "/neko/" || c.WebRTC.EPRMin != 59000 || c.WebRTC.EPRMax != 59100 {
		t.Errorf("file values: prefix %q epr %d-%d", c.Server.PathPrefix, c.WebRTC.EPRMin, c.WebRTC.EPRMax)
	}
	if strings.Join(c.WebRTC.NAT1To1, "|") != "10.0.0.1|127.0.0.1" {
		t.Errorf("nat1to1 %q", c.WebRTC.NAT1To1)
	}
	if c.Member.Multiuser.UserProfile.CanHost || !c.Member.Multiuser.UserProfile.CanWatch {
		t.Errorf("user_profile overrides only what it names: %+v", c.Member.Multiuser.UserProfile)
	}
	f := c.WebRTC.ICEServersFrontend
	if len(f) != 2 || f[0].URLs[0] != "stun:stun.example:3478" || f[1].Username != "u" {
		t.Errorf("ice servers %+v", f)
	}
}

func TestInvalidValuesNameTheOption(t *testing.T) {
	for _, tc := range []struct{ env, val string }{
		{"NEKO_DESKTOP_SCREEN", "1280x"},
		{"NEKO_DESKTOP_SCREEN", "1x1@30"},
		{"NEKO_MEMBER_MULTIUSER_ADMIN_PROFILE", "{nope"},
		{"NEKO_MEMBER_MULTIUSER_USER_PROFILE", `{"is_admin":true} trailing`},
		{"NEKO_MEMBER_PROVIDER", "ldap"},
		{"NEKO_WEBRTC_EPR", "abc"},
		{"NEKO_WEBRTC_ICESERVERS_BACKEND", `[{"username":"x"}]`},
		{"NEKO_CAPTURE_VIDEO_CODEC", "mpeg2"},
		{"NEKO_LOG_LEVEL", "loud"},
		{"NEKO_SESSION_HEARTBEAT_INTERVAL", "0"},
	} {
		t.Run(tc.env+"="+tc.val, func(t *testing.T) {
			_, err := load(t, nil, map[string]string{tc.env: tc.val})
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.env, tc.val)
			}
			// Option names contain underscores; compare without separators.
			norm := func(s string) string { return strings.NewReplacer(".", "", "_", "").Replace(strings.ToLower(s)) }
			if !strings.Contains(norm(err.Error()), norm(strings.TrimPrefix(tc.env, "NEKO_"))) {
				t.Fatalf("error %q does not name the option", err)
			}
		})
	}
}

func TestEveryOptionHasAFlag(t *testing.T) {
	v := viper.New()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	if err := RegisterFlags(fs, v); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range Options {
		if seen[o.Name] {
			t.Errorf("option %s listed twice", o.Name)
		}
		seen[o.Name] = true
		if fs.Lookup(o.Name) == nil {
			t.Errorf("no flag for %s", o.Name)
		}
	}
}

func FuzzParseScreen(f *testing.F) {
	for _, s := range []string{"1280x720@30", "1920x1080", "x@", "99999x1@0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScreen(s)
		if err == nil && (sc.Width < 64 || sc.Height < 64 || sc.Rate < 1) {
			t.Fatalf("accepted %q as %+v", s, sc)
		}
	})
}

func FuzzICEServers(f *testing.F) {
	f.Add(`[{"urls":["stun:a"]}]`)
	f.Add(`[{"urls":"turn:b","username":"u","credential":"p"}]`)
	f.Fuzz(func(t *testing.T, s string) {
		srv, err := parseICEServers(s)
		if err == nil {
			for _, x := range srv {
				if len(x.URLs) == 0 {
					t.Fatalf("server without urls accepted from %q", s)
				}
			}
		}
	})
}

// TestConfigFileAsTheReferenceWritesIt: with no config option, neko.yaml
// in the working directory is read (as /etc/neko/neko.yaml would be); ICE
// servers may be a YAML list there, as the reference's documentation
// writes them.
func TestConfigFileAsTheReferenceWritesIt(t *testing.T) {
	dir := t.TempDir()
	yaml := `
webrtc:
  iceservers:
    frontend:
      - urls: [ "stun:stun.example.org:3478" ]
    backend:
      - urls: "turn:turn.example.org:3478"
        username: neko
        credential: secret
`
	if err := os.WriteFile(filepath.Join(dir, "neko.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	c, err := loadWithDefaults(t, []string{"-d"}, nil, []string{"/nonexistent/neko.yaml", "neko.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "debug" {
		t.Errorf("-d: log level %q", c.Log.Level)
	}
	fe, be := c.WebRTC.ICEServersFrontend, c.WebRTC.ICEServersBackend
	if len(fe) != 1 || len(fe[0].URLs) != 1 || fe[0].URLs[0] != "stun:stun.example.org:3478" {
		t.Errorf("frontend ICE servers %+v", fe)
	}
	if len(be) != 1 || be[0].URLs[0] != "turn:turn.example.org:3478" || be[0].Username != "neko" || be[0].Credential != "secret" {
		t.Errorf("backend ICE servers %+v", be)
	}
}
