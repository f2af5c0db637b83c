package multiuser

import (
	"errors"
	"testing"

	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/pkg/types"
)

func TestAuthenticate(t *testing.T) {
	p := New(Options{
		AdminPassword: "admin", UserPassword: "neko",
		AdminProfile: types.MemberProfile{IsAdmin: true, CanHost: true},
		UserProfile:  types.MemberProfile{CanHost: true},
	})
	tests := []struct {
		name, user, pass string
		admin            bool
		err              error
	}{
		{"admin", "alice", "admin", true, nil},
		{"user", "bob", "neko", false, nil},
		{"wrong password", "bob", "nope", false, errs.ErrInvalidCredentials},
		{"empty password", "bob", "", false, errs.ErrInvalidCredentials},
		{"no username", "  ", "neko", false, errs.ErrUsernameRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, prof, err := p.Authenticate(tt.user, tt.pass)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if prof.IsAdmin != tt.admin || prof.Name != tt.user || id == "" {
				t.Fatalf("got id=%q profile=%+v", id, prof)
			}
		})
	}
}

func TestSameNameDistinctIDs(t *testing.T) {
	p := New(Options{AdminPassword: "a", UserPassword: "u"})
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id, _, err := p.Authenticate("Same Name/../x", "u")
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		for _, r := range id {
			if r == '/' || r == ' ' {
				t.Fatalf("id %q not path-safe", id)
			}
		}
	}
}

// A template name wins over the login name (the documented default
// template has none, so the login name shows).
func TestTemplateName(t *testing.T) {
	p := New(Options{AdminPassword: "a", UserPassword: "u", UserProfile: types.MemberProfile{Name: "Guest"}})
	if _, prof, _ := p.Authenticate("bob", "u"); prof.Name != "Guest" {
		t.Fatalf("name %q", prof.Name)
	}
	if _, prof, _ := p.Authenticate("bob", "a"); prof.Name != "bob" {
		t.Fatalf("name %q", prof.Name)
	}
}
