package main

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the neko binary, so the tests below
// run the real command without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("NEKO_TEST_AS_MAIN") == "1" {
		os.Args = append([]string{"neko"}, strings.Fields(os.Getenv("NEKO_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func neko(t *testing.T, args string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"NEKO_TEST_AS_MAIN=1", "NEKO_TEST_ARGS=" + args}, env...)...)
	return cmd
}

func TestVersion(t *testing.T) {
	out, err := neko(t, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "neko ") {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestInvalidConfigFailsClearly(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"NEKO_DESKTOP_SCREEN=huge", "desktop.screen"},
		{"NEKO_MEMBER_MULTIUSER_USER_PROFILE={bad", "member.multiuser.user_profile"},
		{"NEKO_MEMBER_PROVIDER=ldap", "member.provider"},
		{"NEKO_WEBRTC_EPR=9-1", "webrtc.epr"},
	} {
		out, err := neko(t, "serve", tc.env).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %v, output %q, want an error naming %s", tc.env, err, out, tc.want)
		}
	}
}

// descendants returns every process whose parent chain reaches pid.
func descendants(pid int) map[int]string {
	parents := map[int]int{}
	names := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(fields[1])
		parents[p] = pp
		names[p] = s[strings.IndexByte(s, '(')+1 : end]
	}
	out := map[int]string{}
	for p := range parents {
		for q := parents[p]; q > 1; q = parents[q] {
			if q == pid {
				out[p] = names[p]
				break
			}
		}
	}
	return out
}

// TestSIGTERMLeavesNoProcess runs `neko serve` with its embedded desktop
// and browser, then checks SIGTERM ends every process it started.
func TestSIGTERMLeavesNoProcess(t *testing.T) {
	cmd := neko(t, "serve", "NEKO_SERVER_BIND=127.0.0.1:0", "DISPLAY=", "NEKO_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "neko is running") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case line := <-ready:
		t.Log(line)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("neko did not become ready")
	}
	// Give Chromium time to fork its helpers (zygote, renderers, GPU).
	time.Sleep(3 * time.Second)
	children := descendants(cmd.Process.Pid)
	want := map[string]bool{"Xorg": false, "pulseaudio": false, "openbox": false, "chromium": false}
	for _, name := range children {
		if _, ok := want[name]; ok {
			want[name] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("%s was not started (children: %v)", name, children)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("neko exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("neko did not exit within 30s of SIGTERM")
	}
	time.Sleep(500 * time.Millisecond)
	for pid, name := range children {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			if stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(stat), ") Z ") {
				t.Errorf("process %d (%s) survived SIGTERM", pid, name)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func TestConfigCommandMasksSecrets(t *testing.T) {
	out, err := neko(t, "config --server.bind 0.0.0.0:9",
		"NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD=hunter2", "NEKO_SESSION_API_TOKEN=tok3n").CombinedOutput()
	if err != nil {
		t.Fatalf("config: %v\n%s", err, out)
	}
	s := string(out)
	if strings.Contains(s, "hunter2") || strings.Contains(s, "tok3n") {
		t.Fatalf("secrets printed:\n%s", s)
	}
	for _, want := range []string{"bind: 0.0.0.0:9", "admin_password: '********'", "heartbeat_interval: 10"} {
		if !strings.Contains(s, want) {
			t.Errorf("config output lacks %q:\n%s", want, s)
		}
	}
	if _, err := neko(t, "config", "NEKO_DESKTOP_SCREEN=bad").CombinedOutput(); err == nil {
		t.Error("config accepted an invalid value")
	}
}
