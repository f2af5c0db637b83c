package config

import (
	"fmt"
	"strings"

	"github.com/spf13/viper"
)

// LegacyOptions are the v2 option names. Legacy mode (`legacy`, default
// on) accepts them; a v2 option that is set wins over its v3 equivalent.
var LegacyOptions = []Option{
	{"legacy", true, "enable the v2 compatibility layer (/ws and v2 options)"},
	{"logs", false, "v2: write logs to /var/log/neko (log.dir)"},
	{"cert", "", "v2: server.cert"},
	{"key", "", "v2: server.key"},
	{"bind", "", "v2: server.bind"},
	{"proxy", false, "v2: server.proxy"},
	{"static", "", "v2: server.static"},
	{"path_prefix", "", "v2: server.path_prefix"},
	{"cors", []string{}, "v2: server.cors"},
	{"locks", []string{}, "v2: locked resources at start: control, login, file_transfer"},
	{"implicit_control", false, "v2: session.implicit_hosting"},
	{"control_protection", false, "v2: session.control_protection"},
	{"heartbeat_interval", 120, "v2: session.heartbeat_interval"},
	{"file_transfer_enabled", false, "v2: filetransfer.enabled"},
	{"file_transfer_path", "", "v2: filetransfer.dir"},
	{"display", "", "v2: desktop.display and capture.video.display"},
	{"video_codec", "", "v2: capture.video.codec"},
	{"av1", false, "v2: capture.video.codec=av1"},
	{"h264", false, "v2: capture.video.codec=h264"},
	{"vp8", false, "v2: capture.video.codec=vp8"},
	{"vp9", false, "v2: capture.video.codec=vp9"},
	{"video", "", "v2: capture.video.pipeline"},
	{"video_bitrate", 0, "v2: video bitrate in kbit/s for the generated pipeline"},
	{"hwenc", "", "v2: hardware encoder (not available here; accepted and ignored)"},
	{"max_fps", 0, "v2: frame rate of the generated pipeline"},
	{"device", "", "v2: capture.audio.device"},
	{"audio_codec", "", "v2: capture.audio.codec"},
	{"g722", false, "v2: capture.audio.codec=g722"},
	{"opus", false, "v2: capture.audio.codec=opus"},
	{"pcma", false, "v2: capture.audio.codec=pcma"},
	{"pcmu", false, "v2: capture.audio.codec=pcmu"},
	{"audio", "", "v2: capture.audio.pipeline"},
	{"audio_bitrate", 0, "v2: audio bitrate in kbit/s for the generated pipeline"},
	{"broadcast_pipeline", "", "v2: capture.broadcast.pipeline"},
	{"broadcast_url", "", "v2: capture.broadcast.url"},
	{"broadcast_autostart", false, "v2: capture.broadcast.autostart"},
	{"screen", "", "v2: desktop.screen"},
	{"password", "", "v2: member.multiuser.user_password"},
	{"password_admin", "", "v2: member.multiuser.admin_password"},
	{"nat1to1", []string{}, "v2: webrtc.nat1to1"},
	{"tcpmux", 0, "v2: webrtc.tcpmux"},
	{"udpmux", 0, "v2: webrtc.udpmux"},
	{"icelite", false, "v2: webrtc.icelite"},
	{"iceserver", []string{}, "v2: ICE server URLs (frontend and backend)"},
	{"iceservers", "", "v2: ICE servers as JSON (frontend and backend)"},
	{"ipfetch", "", "v2: webrtc.ip_retrieval_url"},
	{"epr", "", "v2: webrtc.epr"},
}

// Legacy is what the v2 layer needs beyond the mapped v3 options.
type Legacy struct {
	Enabled      bool
	VideoBitrate int // kbit/s, 0 = default
	MaxFPS       int
	AudioBitrate int
	// FileTransferLocked is locks=file_transfer.
	FileTransferLocked bool
}

// applyLegacy copies each v2 option that is set (flag, environment or
// file — not a default) onto its v3 name, and reports whether legacy mode
// is on: the legacy option, true unless set otherwise (as the reference,
// an explicit legacy=false wins over v2 options).
func applyLegacy(v *viper.Viper) (Legacy, error) {
	l := Legacy{Enabled: v.GetBool("legacy")}
	set := v.IsSet
	direct := map[string][]string{
		"cert": {"server.cert"}, "key": {"server.key"}, "bind": {"server.bind"}, "proxy": {"server.proxy"},
		"static": {"server.static"}, "path_prefix": {"server.path_prefix"}, "cors": {"server.cors"},
		"implicit_control": {"session.implicit_hosting"}, "control_protection": {"session.control_protection"},
		"heartbeat_interval":    {"session.heartbeat_interval"},
		"file_transfer_enabled": {"filetransfer.enabled"}, "file_transfer_path": {"filetransfer.dir"},
		"display":     {"desktop.display", "capture.video.display"},
		"video_codec": {"capture.video.codec"},
		"device":      {"capture.audio.device"}, "audio_codec": {"capture.audio.codec"},
		"broadcast_pipeline": {"capture.broadcast.pipeline"}, "broadcast_url": {"capture.broadcast.url"},
		"broadcast_autostart": {"capture.broadcast.autostart"},
		"screen":              {"desktop.screen"},
		"password":            {"member.multiuser.user_password"}, "password_admin": {"member.multiuser.admin_password"},
		"nat1to1": {"webrtc.nat1to1"}, "tcpmux": {"webrtc.tcpmux"}, "udpmux": {"webrtc.udpmux"},
		"icelite": {"webrtc.icelite"}, "epr": {"webrtc.epr"}, "ipfetch": {"webrtc.ip_retrieval_url"},
		"iceservers": {"webrtc.iceservers.frontend", "webrtc.iceservers.backend"},
	}
	for v2, v3s := range direct {
		if set(v2) {
			for _, v3 := range v3s {
				v.Set(v3, v.Get(v2))
			}
		}
	}
	// v2 pipelines name the display or device with %s and end before the
	// sink, which the v2 server appended.
	for v2, p := range map[string]struct{ v3, placeholder string }{
		"video": {"capture.video.pipeline", "{display}"}, "audio": {"capture.audio.pipeline", "{device}"},
	} {
		if set(v2) {
			v.Set(p.v3, v2Pipeline(v.GetString(v2), p.placeholder))
		}
	}
	if set("password") || set("password_admin") {
		v.Set("member.provider", "multiuser")
	}
	if set("logs") && v.GetBool("logs") {
		v.Set("log.dir", "/var/log/neko")
	}
	for _, codec := range []string{"vp8", "vp9", "h264", "av1"} {
		if set(codec) && v.GetBool(codec) {
			v.Set("capture.video.codec", codec)
		}
	}
	for _, codec := range []string{"opus", "g722", "pcmu", "pcma"} {
		if set(codec) && v.GetBool(codec) {
			v.Set("capture.audio.codec", codec)
		}
	}
	if set("locks") {
		for _, lock := range getStrings(v, "locks") {
			switch lock {
			case "control":
				v.Set("session.locked_controls", true)
			case "login":
				v.Set("session.locked_logins", true)
			case "file_transfer":
				l.FileTransferLocked = true
			default:
				return l, fmt.Errorf("config: locks: unknown lock %q (want control, login or file_transfer)", lock)
			}
		}
	}
	if set("iceserver") {
		var urls []string
		for _, u := range getStrings(v, "iceserver") {
			urls = append(urls, `"`+strings.ReplaceAll(u, `"`, ``)+`"`)
		}
		js := `[{"urls":[` + strings.Join(urls, ",") + `]}]`
		v.Set("webrtc.iceservers.frontend", js)
		v.Set("webrtc.iceservers.backend", js)
	}
	if set("video_bitrate") {
		l.VideoBitrate = v.GetInt("video_bitrate")
	}
	if set("max_fps") {
		l.MaxFPS = v.GetInt("max_fps")
	}
	if set("audio_bitrate") {
		l.AudioBitrate = v.GetInt("audio_bitrate")
	}
	_ = set("hwenc")
	for _, n := range []struct {
		name string
		val  int
	}{{"video_bitrate", l.VideoBitrate}, {"max_fps", l.MaxFPS}, {"audio_bitrate", l.AudioBitrate}} {
		if n.val < 0 {
			return l, fmt.Errorf("config: %s must not be negative", n.name)
		}
	}
	return l, nil
}

// v2Pipeline turns a v2 pipeline (display or device as %s, no sink) into
// the v3 form ({display} or {device}, ending in appsink name=appsink).
func v2Pipeline(desc, placeholder string) string {
	desc = strings.TrimSpace(strings.ReplaceAll(desc, "%s", placeholder))
	if desc == "" || strings.Contains(desc, "appsink") {
		return desc
	}
	return strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(desc, "!")), "!") + " ! appsink name=appsink"
}
