package object

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/neko-webrtc/neko/internal/member/errs"
	"github.com/neko-webrtc/neko/pkg/types"
)

func newTest(t *testing.T) *Provider {
	t.Helper()
	p, err := New([]User{
		{Username: "admin", Password: "admin", Profile: types.MemberProfile{Name: "Administrator", IsAdmin: true, CanLogin: true}},
		{Username: "user", Password: "neko", Profile: types.MemberProfile{CanLogin: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthenticate(t *testing.T) {
	p := newTest(t)
	tests := []struct {
		name, user, pass string
		wantName         string
		err              error
	}{
		{"admin", "admin", "admin", "Administrator", nil},
		{"name defaults to username", "user", "neko", "user", nil},
		{"wrong password", "user", "admin", "", errs.ErrInvalidCredentials},
		{"empty password", "user", "", "", errs.ErrInvalidCredentials},
		{"unknown user", "nobody", "neko", "", errs.ErrInvalidCredentials},
		{"username is case-sensitive", "User", "neko", "", errs.ErrInvalidCredentials},
		{"no username", "", "neko", "", errs.ErrUsernameRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, prof, err := p.Authenticate(tt.user, tt.pass)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && (id != tt.user || prof.Name != tt.wantName) {
				t.Fatalf("got id=%q profile=%+v", id, prof)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for name, users := range map[string][]User{
		"duplicate":      {{Username: "a", Password: "x"}, {Username: "a", Password: "y"}},
		"empty name":     {{Username: " ", Password: "x"}},
		"empty password": {{Username: "a"}},
	} {
		if _, err := New(users); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestStore(t *testing.T) {
	p := newTest(t)
	if _, err := p.Create("user", "x", types.MemberProfile{}); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("create existing: %v", err)
	}
	id, err := p.Create("carol", "pw", types.MemberProfile{CanLogin: true, Plugins: map[string]any{"k": 1}})
	if err != nil || id != "carol" {
		t.Fatalf("create: %q %v", id, err)
	}
	if _, prof, err := p.Authenticate("carol", "pw"); err != nil || prof.Name != "carol" {
		t.Fatalf("login new member: %+v %v", prof, err)
	}
	if err := p.UpdatePassword("carol", "new"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Authenticate("carol", "pw"); !errors.Is(err, errs.ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if err := p.UpdateProfile("carol", types.MemberProfile{Name: "Carol", CanHost: true}); err != nil {
		t.Fatal(err)
	}
	got, err := p.Get("carol")
	if err != nil || got.Name != "Carol" || !got.CanHost {
		t.Fatalf("get: %+v %v", got, err)
	}
	// Returned profiles are copies.
	got.Plugins = map[string]any{"x": 1}
	got2, _ := p.Get("carol")
	if got2.Plugins != nil {
		t.Fatalf("store shares its profile: %+v", got2)
	}
	for _, fn := range []func() error{
		func() error { _, err := p.Get("zed"); return err },
		func() error { return p.UpdateProfile("zed", types.MemberProfile{}) },
		func() error { return p.UpdatePassword("zed", "x") },
		func() error { return p.Delete("zed") },
	} {
		if err := fn(); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("unknown member: %v", err)
		}
	}
	if err := p.Delete("carol"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Authenticate("carol", "new"); !errors.Is(err, errs.ErrInvalidCredentials) {
		t.Fatalf("deleted member logs in: %v", err)
	}
}

func TestListPages(t *testing.T) {
	p, _ := New(nil)
	for _, n := range []string{"d", "b", "a", "c", "e"} {
		if _, err := p.Create(n, "x", types.MemberProfile{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit, offset int
		want          string
	}{
		{0, 0, "abcde"}, {2, 0, "ab"}, {2, 2, "cd"}, {2, 4, "e"}, {0, 3, "de"}, {1, 9, ""}, {9, 0, "abcde"},
	}
	for _, tt := range tests {
		list, err := p.List(tt.limit, tt.offset)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, m := range list {
			got += m.ID
		}
		if got != tt.want || list == nil {
			t.Errorf("List(%d, %d) = %q, want %q", tt.limit, tt.offset, got, tt.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	p, _ := New(nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := fmt.Sprint("u", i)
			if _, err := p.Create(name, "pw", types.MemberProfile{}); err != nil {
				t.Error(err)
			}
			_, _, _ = p.Authenticate(name, "pw")
			_, _ = p.List(0, 0)
			_ = p.UpdateProfile(name, types.MemberProfile{CanHost: true})
		})
	}
	wg.Wait()
	if list, _ := p.List(0, 0); len(list) != 20 {
		t.Fatalf("%d members, want 20", len(list))
	}
}
