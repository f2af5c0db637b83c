package noauth

import (
	"errors"
	"testing"

	"github.com/neko-webrtc/neko/internal/member/errs"
)

func TestAuthenticate(t *testing.T) {
	p := New()
	tests := []struct {
		name, user, pass string
		err              error
	}{
		{"any password", "alice", "whatever", nil},
		{"empty password", "bob", "", nil},
		{"no username", " ", "x", errs.ErrUsernameRequired},
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
			if id == "" || prof.Name != tt.user || !prof.CanLogin || !prof.CanConnect || !prof.CanWatch || !prof.IsAdmin {
				t.Fatalf("got id=%q profile=%+v", id, prof)
			}
		})
	}
}

func TestDistinctIDs(t *testing.T) {
	p := New()
	a, _, _ := p.Authenticate("same", "")
	b, _, _ := p.Authenticate("same", "")
	if a == b {
		t.Fatalf("two logins share id %q", a)
	}
}
