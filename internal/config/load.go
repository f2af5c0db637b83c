package config

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// RegisterFlags adds a flag for every option to fs and binds it in v, with
// NEKO_* environment variables read automatically.
func RegisterFlags(fs *pflag.FlagSet, v *viper.Viper) error {
	all := append(append([]Option{}, Options...), LegacyOptions...)
	// The reference's one-letter flags (pflag registers a shorthand only
	// with the flag).
	short := map[string]string{"debug": "d", "logs": "l"}
	for _, o := range all {
		switch d := o.Default.(type) {
		case string:
			fs.String(o.Name, d, o.Usage)
		case bool:
			fs.BoolP(o.Name, short[o.Name], d, o.Usage)
		case int:
			fs.Int(o.Name, d, o.Usage)
		case float64:
			fs.Float64(o.Name, d, o.Usage)
		case time.Duration:
			fs.Duration(o.Name, d, o.Usage)
		case []string:
			fs.StringSlice(o.Name, d, o.Usage)
		default:
			return fmt.Errorf("config: option %s has unsupported type %T", o.Name, d)
		}
		if err := v.BindPFlag(o.Name, fs.Lookup(o.Name)); err != nil {
			return fmt.Errorf("config: bind %s: %w", o.Name, err)
		}
	}
	// v2 names stay accepted but out of the way in --help.
	for _, o := range LegacyOptions {
		_ = fs.MarkHidden(o.Name)
	}
	fs.StringP("config", "c", "", "YAML configuration file")
	if err := v.BindPFlag("config", fs.Lookup("config")); err != nil {
		return err
	}
	v.SetEnvPrefix("NEKO")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	return nil
}

// ReadFile reads the configuration file named by the config option or,
// without one, the first of defaults that exists (a missing default is no
// error; the server passes DefaultFiles). YAML unless the name ends in
// .json.
func ReadFile(v *viper.Viper, defaults []string) error {
	path := v.GetString("config")
	if path == "" {
		for _, p := range defaults {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				path = p
				break
			}
		}
		if path == "" {
			return nil
		}
	}
	v.SetConfigFile(path)
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		v.SetConfigType("json")
	} else {
		v.SetConfigType("yaml")
	}
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("config: read %s: %w", path, err)
	}
	return nil
}

// DefaultFiles are where the reference looks for its configuration when
// none is named: /etc/neko (the usual mount in containers), then the
// working directory.
func DefaultFiles() []string {
	return []string{
		"/etc/neko/neko.yaml", "/etc/neko/neko.yml", "/etc/neko/neko.json",
		"neko.yaml", "neko.yml", "neko.json",
	}
}

// strings reads a list option. Environment variables arrive as one string;
// the reference splits them on commas and spaces.
func getStrings(v *viper.Viper, key string) []string {
	raw := v.Get(key)
	var out []string
	switch t := raw.(type) {
	case string:
		out = strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' })
	default:
		for _, s := range v.GetStringSlice(key) {
			out = append(out, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
		}
	}
	return out
}

// Load decodes and validates the configuration. Errors name the option.
func Load(v *viper.Viper) (*Config, error) {
	c := &Config{}
	var err error
	// v2 options first: they overwrite their v3 equivalents.
	if c.Legacy, err = applyLegacy(v); err != nil {
		return nil, err
	}
	lookupDisplay := func() string {
		if d := v.GetString("desktop.display"); d != "" {
			return d
		}
		return os.Getenv("DISPLAY")
	}

	c.Log = Log{
		Level:   strings.ToLower(strings.TrimSpace(v.GetString("log.level"))),
		JSON:    v.GetBool("log.json"),
		Dir:     v.GetString("log.dir"),
		NoColor: v.GetBool("log.nocolor"),
	}
	if v.GetBool("debug") {
		c.Log.Level = "debug"
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error", "trace", "warning", "disabled", "panic", "fatal":
	default:
		return nil, fmt.Errorf("config: log.level %q: want debug, info, warn or error", c.Log.Level)
	}

	c.Server = Server{
		Bind:       v.GetString("server.bind"),
		Cert:       v.GetString("server.cert"),
		Key:        v.GetString("server.key"),
		CORS:       getStrings(v, "server.cors"),
		Metrics:    v.GetBool("server.metrics"),
		PathPrefix: normalisePrefix(v.GetString("server.path_prefix")),
		PProf:      v.GetBool("server.pprof"),
		Proxy:      v.GetBool("server.proxy"),
		Static:     v.GetString("server.static"),
	}
	if (c.Server.Cert == "") != (c.Server.Key == "") {
		return nil, fmt.Errorf("config: server.cert and server.key must be set together")
	}

	if c.Member, err = loadMember(v); err != nil {
		return nil, err
	}

	c.Session = Session{
		APIToken:          v.GetString("session.api_token"),
		File:              v.GetString("session.file"),
		HeartbeatInterval: v.GetInt("session.heartbeat_interval"),
		PrivateMode:       v.GetBool("session.private_mode"),
		LockedLogins:      v.GetBool("session.locked_logins"),
		LockedControls:    v.GetBool("session.locked_controls"),
		ControlProtection: v.GetBool("session.control_protection"),
		ImplicitHosting:   v.GetBool("session.implicit_hosting"),
		InactiveCursors:   v.GetBool("session.inactive_cursors"),
		MercifulReconnect: v.GetBool("session.merciful_reconnect"),
		Cookie: Cookie{
			Enabled:    v.GetBool("session.cookie.enabled"),
			Name:       v.GetString("session.cookie.name"),
			Expiration: v.GetDuration("session.cookie.expiration"),
			Secure:     v.GetBool("session.cookie.secure"),
			HTTPOnly:   v.GetBool("session.cookie.http_only"),
			Domain:     v.GetString("session.cookie.domain"),
			Path:       v.GetString("session.cookie.path"),
		},
	}
	if c.Session.HeartbeatInterval <= 0 {
		return nil, fmt.Errorf("config: session.heartbeat_interval must be positive, got %d", c.Session.HeartbeatInterval)
	}
	if c.Session.Cookie.Name == "" {
		c.Session.Cookie.Name = "NEKO_SESSION"
	}

	if c.WebRTC, err = loadWebRTC(v); err != nil {
		return nil, err
	}

	screen, err := ParseScreen(v.GetString("desktop.screen"))
	if err != nil {
		return nil, fmt.Errorf("config: desktop.screen: %w", err)
	}
	c.Desktop = Desktop{
		Display:           lookupDisplay(),
		Screen:            screen,
		FileChooserDialog: v.GetBool("desktop.file_chooser_dialog"),
		Unminimize:        v.GetBool("desktop.unminimize"),
		UploadDrop:        v.GetBool("desktop.upload_drop"),
	}

	if c.Capture, err = loadCapture(v); err != nil {
		return nil, err
	}

	c.Plugins = loadPlugins(v)

	c.Runtime = Runtime{
		URL:          v.GetString("runtime.url"),
		App:          v.GetString("runtime.app"),
		DevToolsPort: v.GetInt("runtime.devtools_port"),
	}
	for _, s := range getStrings(v, "runtime.screens") {
		sc, err := ParseScreen(s)
		if err != nil {
			return nil, fmt.Errorf("config: runtime.screens: %w", err)
		}
		c.Runtime.Screens = append(c.Runtime.Screens, sc)
	}
	if p := c.Runtime.DevToolsPort; p < 0 || p > 65535 {
		return nil, fmt.Errorf("config: runtime.devtools_port %d out of range", p)
	}
	return c, nil
}

func normalisePrefix(p string) string {
	p = "/" + strings.Trim(p, "/")
	if p != "/" {
		p += "/"
	}
	return p
}
