package config

import (
	"testing"
)

func TestLegacyEnvironment(t *testing.T) {
	c, err := load(t, nil, map[string]string{
		"NEKO_PASSWORD": "userpw", "NEKO_PASSWORD_ADMIN": "adminpw", "NEKO_SCREEN": "1920x1080@60",
		"NEKO_EPR": "52000-52100", "NEKO_NAT1TO1": "203.0.113.7", "NEKO_ICELITE": "true",
		"NEKO_BIND": ":8081", "NEKO_LOCKS": "control login", "NEKO_IMPLICIT_CONTROL": "1",
		"NEKO_H264": "true", "NEKO_PCMA": "true", "NEKO_FILE_TRANSFER_ENABLED": "true",
		"NEKO_FILE_TRANSFER_PATH": "/tmp/ft", "NEKO_ICESERVER": "stun:stun.example:3478",
		"NEKO_HEARTBEAT_INTERVAL": "30", "NEKO_MAX_FPS": "25", "NEKO_VIDEO_BITRATE": "2500",
		"NEKO_DISPLAY": ":42",
		// The v2 name wins over the v3 one.
		"NEKO_MEMBER_MULTIUSER_USER_PASSWORD": "v3pw",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Member.Multiuser
	if m.UserPassword != "userpw" || m.AdminPassword != "adminpw" {
		t.Errorf("passwords %q %q", m.UserPassword, m.AdminPassword)
	}
	if c.Desktop.Screen.Width != 1920 || c.Desktop.Screen.Rate != 60 || c.Desktop.Display != ":42" || c.Capture.VideoDisplay != ":42" {
		t.Errorf("desktop %+v capture display %q", c.Desktop, c.Capture.VideoDisplay)
	}
	w := c.WebRTC
	if w.EPRMin != 52000 || w.EPRMax != 52100 || len(w.NAT1To1) != 1 || w.NAT1To1[0] != "203.0.113.7" || !w.ICELite {
		t.Errorf("webrtc %+v", w)
	}
	if len(w.ICEServersFrontend) != 1 || w.ICEServersFrontend[0].URLs[0] != "stun:stun.example:3478" || len(w.ICEServersBackend) != 1 {
		t.Errorf("ice servers %+v %+v", w.ICEServersFrontend, w.ICEServersBackend)
	}
	if c.Server.Bind != ":8081" || !c.Session.LockedControls || !c.Session.LockedLogins || !c.Session.ImplicitHosting || c.Session.HeartbeatInterval != 30 {
		t.Errorf("server %+v session %+v", c.Server, c.Session)
	}
	if c.Capture.VideoCodec != "h264" || c.Capture.AudioCodec != "pcma" {
		t.Errorf("codecs %q %q", c.Capture.VideoCodec, c.Capture.AudioCodec)
	}
	if !c.Plugins.FileTransfer.Enabled || c.Plugins.FileTransfer.Dir != "/tmp/ft" {
		t.Errorf("file transfer %+v", c.Plugins.FileTransfer)
	}
	if !c.Legacy.Enabled || c.Legacy.MaxFPS != 25 || c.Legacy.VideoBitrate != 2500 {
		t.Errorf("legacy %+v", c.Legacy)
	}
}

func TestLegacyDefaultsAndOff(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Legacy.Enabled || c.Session.HeartbeatInterval != 10 {
		t.Errorf("defaults: legacy %v heartbeat %d (the v2 default 120 must not leak in)", c.Legacy.Enabled, c.Session.HeartbeatInterval)
	}
	c, err = load(t, nil, map[string]string{"NEKO_LEGACY": "false"})
	if err != nil || c.Legacy.Enabled {
		t.Errorf("NEKO_LEGACY=false: %v %v", c.Legacy.Enabled, err)
	}
	// As the reference: an explicit legacy setting wins over v2 options.
	c, err = load(t, nil, map[string]string{"NEKO_LEGACY": "false", "NEKO_PASSWORD": "x"})
	if err != nil || c.Legacy.Enabled {
		t.Errorf("NEKO_LEGACY=false with a v2 option: %v %v", c.Legacy.Enabled, err)
	}
	if _, err := load(t, nil, map[string]string{"NEKO_LOCKS": "everything"}); err == nil {
		t.Error("unknown lock accepted")
	}
}

// TestLegacyPipelines: v2 pipelines name the display or device with %s
// and leave the sink out; they become v3 custom pipelines.
func TestLegacyPipelines(t *testing.T) {
	c, err := load(t, nil, map[string]string{
		"NEKO_VIDEO": "ximagesrc display-name=%s show-pointer=true use-damage=false ! video/x-raw,framerate=25/1 ! videoconvert ! queue ! vp8enc deadline=1",
		"NEKO_AUDIO": "pulsesrc device=%s ! audioconvert ! opusenc ! ",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ximagesrc display-name={display} show-pointer=true use-damage=false ! video/x-raw,framerate=25/1 ! videoconvert ! queue ! vp8enc deadline=1 ! appsink name=appsink"; c.Capture.VideoPipeline != want {
		t.Errorf("video pipeline %q", c.Capture.VideoPipeline)
	}
	if want := "pulsesrc device={device} ! audioconvert ! opusenc ! appsink name=appsink"; c.Capture.AudioPipeline != want {
		t.Errorf("audio pipeline %q", c.Capture.AudioPipeline)
	}
	if v2Pipeline("a ! appsink name=appsink", "{display}") != "a ! appsink name=appsink" {
		t.Error("a pipeline with its sink changed")
	}
}
