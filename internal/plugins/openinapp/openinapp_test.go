package openinapp_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neko-webrtc/neko/internal/plugins"
	"github.com/neko-webrtc/neko/internal/plugins/openinapp"
	pt "github.com/neko-webrtc/neko/internal/plugins/plugintest"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// recorder is a script that appends its arguments and DISPLAY to a log.
func recorder(t *testing.T) (command, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "opened.log")
	script := filepath.Join(dir, "open.sh")
	body := "#!/bin/sh\nprintf '%s|%s|%s\\n' \"$1\" \"$2\" \"$DISPLAY\" >> '" + log + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script + " --new-tab", log
}

// lines waits until the log has n lines, then checks it stays there.
func lines(t *testing.T, log string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) == 0 {
			got = nil
		}
		if len(got) >= n || time.Now().After(deadline) {
			time.Sleep(100 * time.Millisecond)
			b, _ = os.ReadFile(log)
			if len(b) == 0 {
				return nil
			}
			return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newEnv(t *testing.T, opts openinapp.Options) *pt.Env {
	return pt.New(t, types.Settings{}, func(m *session.Manager) plugins.Set {
		opts.Sessions, opts.Logger = m, pt.Quiet()
		return plugins.Set{openinapp.New(opts)}
	})
}

func TestOpenLink(t *testing.T) {
	cmd, log := recorder(t)
	e := newEnv(t, openinapp.Options{Enabled: true, Command: cmd, Display: ":99"})
	hostS := e.Session("host", pt.User("host"))
	host := e.Connect(hostS)
	var init types.PluginInit
	host.ExpectInto(types.EventOpenInAppInit, &init)
	if !init.Enabled {
		t.Fatal("openinapp/init not enabled")
	}
	other := e.Connect(e.Session("other", pt.Admin("other")))
	other.Expect(types.EventOpenInAppInit)
	e.Sessions.SetHost(hostS)

	// Refused: not the host, or not an http(s) link.
	other.Send(types.EventOpenInAppOpenLink, types.OpenInAppLink{Text: "https://example.com/other"})
	for _, bad := range []string{"javascript:alert(1)", "file:///etc/passwd", "ftp://example.com/", "https://", "//example.com", "-x", "", "example.com", "http:/\x00x"} {
		host.Send(types.EventOpenInAppOpenLink, types.OpenInAppLink{Text: bad})
	}
	host.SendRaw([]byte(`{"event":"openinapp/openlink","payload":"https://example.com/"}`))
	// Accepted: the URL is one argument, whatever it contains.
	host.Send(types.EventOpenInAppOpenLink, types.OpenInAppLink{Text: "https://example.com/a b?q=1;rm -rf ~&x=$(id)"})
	got := lines(t, log, 1)
	want := "--new-tab|https://example.com/a%20b?q=1;rm -rf ~&x=$(id)|:99"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("opened %q, want [%q]", got, want)
	}

	// REST, same rules.
	for _, tt := range []struct {
		token, body string
		want        int
	}{
		{other.Session.Token(), `{"text":"https://example.com/"}`, http.StatusForbidden},
		{hostS.Token(), `{"text":"file:///etc/passwd"}`, http.StatusBadRequest},
		{hostS.Token(), `{"text":"HTTP://Example.com/rest"}`, http.StatusOK},
	} {
		resp, body := e.Do("POST", "/api/openinapp/openlink", tt.token, strings.NewReader(tt.body), nil)
		if resp.StatusCode != tt.want {
			t.Fatalf("POST %s: %d %s, want %d", tt.body, resp.StatusCode, body, tt.want)
		}
		if tt.want == 200 && strings.TrimSpace(string(body)) != "null" {
			t.Fatalf("body %q", body)
		}
	}
	got = lines(t, log, 2)
	if len(got) != 2 || got[1] != "--new-tab|http://Example.com/rest|:99" {
		t.Fatalf("opened %q", got)
	}
}

func TestDisabled(t *testing.T) {
	cmd, log := recorder(t)
	e := newEnv(t, openinapp.Options{Enabled: false, Command: cmd})
	s := e.Session("host", pt.Admin("host"))
	c := e.Connect(s)
	if raw := c.Expect(types.EventOpenInAppInit); string(raw) != `{"enabled":false}` {
		t.Fatalf("openinapp/init %s", raw)
	}
	e.Sessions.SetHost(s)
	c.Send(types.EventOpenInAppOpenLink, types.OpenInAppLink{Text: "https://example.com/"})
	resp, _ := e.Do("POST", "/api/openinapp/openlink", s.Token(), strings.NewReader(`{"text":"https://example.com/"}`), nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST while disabled: %d", resp.StatusCode)
	}
	if got := lines(t, log, 0); len(got) != 0 {
		t.Fatalf("opened %q", got)
	}
}

// TestTimeout: a command that hangs is killed, and its slot comes back.
func TestTimeout(t *testing.T) {
	m := session.New(session.Options{})
	s, _ := m.Create("host", pt.User("host"))
	m.SetHost(s)
	hang := filepath.Join(t.TempDir(), "hang.sh")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := openinapp.New(openinapp.Options{Enabled: true, Command: hang, Timeout: 2 * time.Second, Sessions: m, Logger: pt.Quiet()})
	for range 4 {
		if err := o.Open(s, "https://example.com/"); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Open(s, "https://example.com/"); !errors.Is(err, openinapp.ErrBusy) {
		t.Fatalf("fifth open: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for o.Open(s, "https://example.com/") != nil {
		if time.Now().After(deadline) {
			t.Fatal("hung commands were not killed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCheckURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.com":        "https://example.com",
		" http://a.b/c?d#e ":         "http://a.b/c?d#e",
		"HTTPS://X.org/":             "https://X.org/",
		"https://[::1]:8080/":        "https://[::1]:8080/",
		"https://example.com/\"q\"'": "https://example.com/%22q%22%27",
	} {
		if got, err := openinapp.CheckURL(in); err != nil || got != want {
			t.Errorf("CheckURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mailto:a@b", "data:text/html,x", "chrome://settings", "http://", "http//x", "/path", "https://a\nb/", strings.Repeat("h", 9000)} {
		if _, err := openinapp.CheckURL(in); err == nil {
			t.Errorf("CheckURL(%q) accepted", in)
		}
	}
}
