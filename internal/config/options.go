// Package config defines every configuration option (names and defaults of
// the reference server), registers them as flags, reads NEKO_* environment
// variables and a YAML file through viper, and decodes them into one typed,
// validated Config that is passed down explicitly.
package config

import (
	"time"
)

// Option is one configuration key. Its type is the type of Default.
type Option struct {
	Name    string
	Default any
	Usage   string
}

// Options lists every option the server understands. Names, types and
// defaults match the reference's (see docs/configuration.md); options of our
// own live under runtime.*.
var Options = []Option{
	// capture
	{"capture.audio.codec", "opus", "audio codec: opus, g722, pcmu, pcma"},
	{"capture.audio.device", "audio_output.monitor", "PulseAudio source to capture"},
	{"capture.audio.pipeline", "", "custom GStreamer audio pipeline (ends in appsink name=appsink)"},
	{"capture.broadcast.audio_bitrate", 128, "broadcast audio bitrate in KB/s"},
	{"capture.broadcast.autostart", true, "start broadcasting when the url is set"},
	{"capture.broadcast.pipeline", "", "custom GStreamer broadcast pipeline"},
	{"capture.broadcast.preset", "veryfast", "broadcast x264 speed preset"},
	{"capture.broadcast.url", "", "RTMP url to broadcast to"},
	{"capture.broadcast.video_bitrate", 4096, "broadcast video bitrate in KB/s"},
	{"capture.microphone.device", "audio_input", "PulseAudio sink for the upstream microphone"},
	{"capture.microphone.enabled", true, "accept microphone upstream"},
	{"capture.screencast.enabled", false, "enable the JPEG screencast"},
	{"capture.screencast.pipeline", "", "custom GStreamer screencast pipeline"},
	{"capture.screencast.quality", "60", "screencast JPEG quality"},
	{"capture.screencast.rate", "10/1", "screencast frame rate"},
	{"capture.video.codec", "vp8", "video codec: vp8, vp9, h264, av1, h265"},
	{"capture.video.display", "", "X display to capture (default: desktop.display)"},
	{"capture.video.ids", []string{}, "ordered video quality ids"},
	{"capture.video.pipeline", "", "custom GStreamer video pipeline (shorthand for one quality)"},
	{"capture.video.pipelines", "{}", "video qualities as JSON"},
	{"capture.webcam.device", "/dev/video0", "v4l2loopback device for the upstream webcam"},
	{"capture.webcam.enabled", false, "accept webcam upstream"},
	{"capture.webcam.height", 720, "webcam height"},
	{"capture.webcam.width", 1280, "webcam width"},

	// desktop
	{"desktop.display", "", "X display (default: $DISPLAY, else the embedded runtime starts one)"},
	{"desktop.file_chooser_dialog", false, "handle file chooser dialogs"},
	{"desktop.input.enabled", true, "use the xf86-input-neko driver when present"},
	{"desktop.input.socket", "/tmp/xf86-input-neko.sock", "socket of the xf86-input-neko driver"},
	{"desktop.screen", "1280x720@30", "default screen size and rate"},
	{"desktop.unminimize", true, "restore minimised windows"},
	{"desktop.upload_drop", true, "allow drag-and-drop uploads"},

	// member
	{"member.file.hash", true, "passwords in the members file are sha256, base64 encoded (see neko password)"},
	{"member.file.path", "", "members file path"},
	{"member.multiuser.admin_password", "admin", "admin password"},
	{"member.multiuser.admin_profile", "{}", "admin profile overrides as JSON"},
	{"member.multiuser.user_password", "neko", "user password"},
	{"member.multiuser.user_profile", "{}", "user profile overrides as JSON"},
	{"member.object.users", "[]", "users as JSON"},
	{"member.provider", "multiuser", "member provider: multiuser, file, object, noauth"},

	// plugins
	{"plugins.dir", "./bin/plugins", "plugin directory"},
	{"plugins.enabled", false, "load plugins"},
	{"plugins.required", false, "fail start-up when a plugin fails"},

	// server
	{"server.bind", "127.0.0.1:8080", "address to listen on"},
	{"server.cert", "", "TLS certificate file"},
	{"server.cors", []string{}, "allowed CORS origins"},
	{"server.key", "", "TLS key file"},
	{"server.metrics", true, "serve /metrics"},
	{"server.path_prefix", "/", "path prefix of every route"},
	{"server.pprof", false, "serve /debug/pprof"},
	{"server.proxy", false, "trust X-Forwarded-* headers"},
	{"server.static", "", "serve client files from this directory instead of the built-in client"},

	// session
	{"session.api_token", "", "admin API token (cannot join media)"},
	{"session.control_protection", false, "only admins can take control from others"},
	{"session.cookie.domain", "", "cookie domain"},
	{"session.cookie.enabled", true, "authenticate with a cookie"},
	{"session.cookie.expiration", 24 * time.Hour, "cookie lifetime"},
	{"session.cookie.http_only", true, "cookie is HttpOnly"},
	{"session.cookie.name", "NEKO_SESSION", "cookie name"},
	{"session.cookie.path", "", "cookie path"},
	{"session.cookie.secure", true, "cookie is Secure (on HTTPS connections)"},
	{"session.file", "", "persist sessions to this file"},
	{"session.heartbeat_interval", 10, "heartbeat interval in seconds"},
	{"session.implicit_hosting", false, "any session may drive without taking control"},
	{"session.inactive_cursors", false, "show other sessions' cursors"},
	{"session.locked_controls", false, "only admins may take control"},
	{"session.locked_logins", false, "only admins may log in"},
	{"session.merciful_reconnect", true, "a new connection replaces an old one of the same session"},
	{"session.private_mode", false, "only admins see the screen"},

	// webrtc
	{"webrtc.epr", "", "ephemeral UDP port range, e.g. 59000-59100"},
	{"webrtc.estimator.debug", false, "log estimator decisions"},
	{"webrtc.estimator.diff_threshold", 0.15, "relative bitrate change that counts"},
	{"webrtc.estimator.downgrade_backoff", 10 * time.Second, "wait before another downgrade"},
	{"webrtc.estimator.enabled", false, "enable bandwidth estimation"},
	{"webrtc.estimator.initial_bitrate", 1000000, "initial estimate in bit/s"},
	{"webrtc.estimator.passive", false, "estimate but do not switch"},
	{"webrtc.estimator.read_interval", 2 * time.Second, "how often to read the estimate"},
	{"webrtc.estimator.stable_duration", 12 * time.Second, "stable time before upgrading"},
	{"webrtc.estimator.stalled_duration", 24 * time.Second, "stalled time before downgrading"},
	{"webrtc.estimator.unstable_duration", 6 * time.Second, "unstable time before downgrading"},
	{"webrtc.estimator.upgrade_backoff", 5 * time.Second, "wait before another upgrade"},
	{"webrtc.icelite", false, "ICE lite"},
	{"webrtc.iceservers.backend", "[]", "ICE servers the server uses, as JSON"},
	{"webrtc.iceservers.frontend", "[]", "ICE servers sent to clients, as JSON"},
	{"webrtc.icetrickle", true, "trickle ICE candidates"},
	{"webrtc.ip_retrieval_url", "https://checkip.amazonaws.com", "URL answering this host's public IP as plain text; fetched at start when nat1to1 is empty, offered beside the local addresses"},
	{"webrtc.nat1to1", []string{}, "IPs to advertise instead of the host's"},
	{"webrtc.tcpmux", 0, "single TCP port for ICE-TCP"},
	{"webrtc.udpmux", 0, "single UDP port for ICE"},

	// built-in plugins
	{"chat.enabled", true, "chat plugin"},
	{"filetransfer.enabled", false, "file transfer plugin"},
	{"filetransfer.dir", "/home/neko/Downloads", "file transfer directory"},
	{"filetransfer.refresh_interval", 30 * time.Second, "how often the file list is refreshed"},
	{"filetransfer.user_download", false, "users (not only admins) may download"},
	{"filetransfer.user_upload", false, "users (not only admins) may upload"},
	{"filetransfer.user_delete", false, "users (not only admins) may delete"},
	{"openinapp.enabled", false, "open-in-app plugin"},
	{"openinapp.open_command", "", "command that opens a URL in the shared app"},

	// embedded runtime (ours)
	{"runtime.url", "", "page the embedded browser opens (default: the built-in start page)"},
	{"runtime.app", "", "command to run instead of Chromium in the embedded desktop"},
	{"runtime.devtools_port", 0, "expose the embedded Chromium's DevTools on 127.0.0.1:PORT (0: off)"},
	{"runtime.screens", []string{}, "extra screen modes to offer, e.g. 1920x1080@60"},

	// logging
	{"debug", false, "debug logging"},
	{"log.dir", "", "also write logs to a file in this directory"},
	{"log.json", false, "log as JSON"},
	{"log.level", "info", "log level: debug, info, warn, error"},
	{"log.nocolor", false, "no colours in logs"},
	{"log.time", "unix", "time format in logs"},
}
