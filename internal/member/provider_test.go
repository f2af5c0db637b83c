package member_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/member"
	"github.com/neko-webrtc/neko/internal/member/file"
	"github.com/neko-webrtc/neko/internal/member/multiuser"
	"github.com/neko-webrtc/neko/internal/member/noauth"
	"github.com/neko-webrtc/neko/internal/member/object"
)

// load runs the real option table, environment and YAML file.
func load(t *testing.T, yaml string, env map[string]string) (*config.Config, error) {
	t.Helper()
	t.Setenv("DISPLAY", "")
	for k, v := range env {
		t.Setenv(k, v)
	}
	v := viper.New()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	if err := config.RegisterFlags(fs, v); err != nil {
		t.Fatal(err)
	}
	var args []string
	if yaml != "" {
		path := filepath.Join(t.TempDir(), "neko.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		args = []string{"--config", path}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := config.ReadFile(v, nil); err != nil {
		return nil, err
	}
	return config.Load(v)
}

func TestFromConfig(t *testing.T) {
	members := filepath.Join(t.TempDir(), "members.json")
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		check func(t *testing.T, p member.Provider)
	}{
		{"default multiuser", "", nil, func(t *testing.T, p member.Provider) {
			if _, ok := p.(*multiuser.Provider); !ok {
				t.Fatalf("%T", p)
			}
			if _, err := member.StoreOf(p); !errors.Is(err, member.ErrNotSupported) {
				t.Fatalf("multiuser store: %v", err)
			}
			if _, prof, err := p.Authenticate("x", "admin"); err != nil || !prof.IsAdmin {
				t.Fatalf("admin login: %+v %v", prof, err)
			}
		}},
		{"multiuser profile from YAML", "member:\n  multiuser:\n    user_profile:\n      can_host: false\n      name: Guest\n", nil,
			func(t *testing.T, p member.Provider) {
				_, prof, err := p.Authenticate("x", "neko")
				if err != nil || prof.CanHost || !prof.CanWatch || prof.Name != "Guest" {
					t.Fatalf("user login: %+v %v", prof, err)
				}
			}},
		{"noauth", "", map[string]string{"NEKO_MEMBER_PROVIDER": "noauth"}, func(t *testing.T, p member.Provider) {
			if _, ok := p.(*noauth.Provider); !ok {
				t.Fatalf("%T", p)
			}
		}},
		{"file", "", map[string]string{"NEKO_MEMBER_PROVIDER": "file", "NEKO_MEMBER_FILE_PATH": members}, func(t *testing.T, p member.Provider) {
			if _, ok := p.(*file.Provider); !ok {
				t.Fatalf("%T", p)
			}
			s, err := member.StoreOf(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Create("a", "pw", config.DefaultUserProfile()); err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(members)
			// member.file.hash defaults to true.
			if !strings.Contains(string(raw), file.Hash("pw")) {
				t.Fatalf("password not hashed: %s", raw)
			}
		}},
		{"object from env JSON", "", map[string]string{
			"NEKO_MEMBER_PROVIDER":     "object",
			"NEKO_MEMBER_OBJECT_USERS": `[{"username":"admin","password":"a","profile":{"is_admin":true}},{"username":"u","password":"b"}]`,
		}, func(t *testing.T, p member.Provider) {
			if _, ok := p.(*object.Provider); !ok {
				t.Fatalf("%T", p)
			}
			_, prof, err := p.Authenticate("admin", "a")
			if err != nil || !prof.IsAdmin || !prof.CanLogin || prof.Name != "admin" {
				t.Fatalf("admin: %+v %v", prof, err)
			}
			if _, prof, err := p.Authenticate("u", "b"); err != nil || prof.IsAdmin || !prof.CanConnect {
				t.Fatalf("user: %+v %v", prof, err)
			}
		}},
		{"object from YAML list", "member:\n  provider: object\n  object:\n    users:\n    - username: admin\n      password: admin\n      profile:\n        name: Administrator\n        is_admin: true\n", nil,
			func(t *testing.T, p member.Provider) {
				_, prof, err := p.Authenticate("admin", "admin")
				if err != nil || !prof.IsAdmin || prof.Name != "Administrator" {
					t.Fatalf("admin: %+v %v", prof, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.yaml, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			p, err := member.FromConfig(c.Member)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	corrupt := filepath.Join(t.TempDir(), "members.json")
	if err := os.WriteFile(corrupt, []byte("{oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unknown provider", map[string]string{"NEKO_MEMBER_PROVIDER": "ldap"}, "member.provider"},
		{"file without path", map[string]string{"NEKO_MEMBER_PROVIDER": "file"}, "member.file.path"},
		{"object users not JSON", map[string]string{"NEKO_MEMBER_PROVIDER": "object", "NEKO_MEMBER_OBJECT_USERS": "admin:admin"}, "member.object.users"},
		{"object user without password", map[string]string{"NEKO_MEMBER_PROVIDER": "object", "NEKO_MEMBER_OBJECT_USERS": `[{"username":"a"}]`}, "member.object.users[0]"},
		{"object duplicate", map[string]string{"NEKO_MEMBER_PROVIDER": "object", "NEKO_MEMBER_OBJECT_USERS": `[{"username":"a","password":"x"},{"username":"a","password":"y"}]`}, "member.object.users[1]"},
		{"corrupt members file", map[string]string{"NEKO_MEMBER_PROVIDER": "file", "NEKO_MEMBER_FILE_PATH": corrupt}, corrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, "", tt.env)
			if err == nil {
				_, err = member.FromConfig(c.Member)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}
