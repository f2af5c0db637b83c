package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neko-webrtc/neko/internal/member"
	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

// Members endpoints. All are admin-only, and the permission check answers
// before any lookup (a user asking for an unknown member gets 403). The
// reference lets any session list members; we do not, as the list holds
// every member's rights.
//
// Providers that store members (file, object) implement member.Store. With
// the others (multiuser, noauth) a member exists only as its live session,
// as in the reference: reading and updating a profile act on that session,
// the list is empty, and create, delete and password answer 400 — where
// the reference answers 500.
//
// A member's profile is read as the reference reads it: its live session's
// profile first, else the stored one. Profile updates are partial: fields
// the body leaves out keep their value.
func (a *API) registerMembers(mux *http.ServeMux) {
	mux.Handle("GET /api/members", a.admin(a.membersList))
	mux.Handle("POST /api/members", a.admin(a.membersCreate))
	mux.Handle("GET /api/members/{memberId}", a.admin(a.membersGet))
	mux.Handle("POST /api/members/{memberId}", a.admin(a.membersUpdate))
	mux.Handle("DELETE /api/members/{memberId}", a.admin(a.membersDelete))
	mux.Handle("POST /api/members/{memberId}/password", a.admin(a.membersPassword))
	mux.Handle("POST /api/members_bulk/update", a.admin(a.membersBulkUpdate))
	mux.Handle("POST /api/members_bulk/delete", a.admin(a.membersBulkDelete))
}

const (
	// maxMemberList caps one page of GET /api/members; limit 0 or absent
	// means "all", up to this many.
	maxMemberList = 1000
	// maxMemberName caps usernames of created members.
	maxMemberName = 128
)

// newMemberProfile is the profile of a created member before the body's
// fields apply: every right but admin, as the reference's.
func newMemberProfile() types.MemberProfile {
	return types.MemberProfile{
		CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true,
		CanShareMedia: true, CanAccessClipboard: true,
		SendsInactiveCursor: true, CanSeeInactiveCursors: true,
	}
}

// memberError maps member errors to status codes; anything else is the
// provider failing (a broken members file, say) and stays a 500.
func memberError(err error) error {
	switch {
	case errors.Is(err, member.ErrNotFound):
		return &HTTPError{Code: http.StatusNotFound, Msg: "member not found", Err: err}
	case errors.Is(err, member.ErrExists):
		return &HTTPError{Code: http.StatusUnprocessableEntity, Msg: "member already exists", Err: err}
	case errors.Is(err, member.ErrNotSupported):
		return &HTTPError{Code: http.StatusBadRequest, Msg: "members are not stored by this member provider", Err: err}
	default:
		return &HTTPError{Code: http.StatusInternalServerError, Msg: "member store failed", Err: err}
	}
}

func (a *API) memberStore() (member.Store, error) {
	s, err := member.StoreOf(a.opts.Members)
	if err != nil {
		return nil, memberError(err)
	}
	return s, nil
}

func (a *API) membersList(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryCount(r, "limit")
	if err != nil {
		return err
	}
	offset, err := queryCount(r, "offset")
	if err != nil {
		return err
	}
	if limit == 0 || limit > maxMemberList {
		limit = maxMemberList
	}
	store, err := member.StoreOf(a.opts.Members)
	if err != nil {
		WriteJSON(w, http.StatusOK, []types.MemberData{})
		return nil
	}
	list, err := store.List(limit, offset)
	if err != nil {
		return memberError(err)
	}
	WriteJSON(w, http.StatusOK, list)
	return nil
}

// queryCount reads a non-negative integer query parameter (absent: 0).
func queryCount(r *http.Request, key string) (int, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, httpError(http.StatusBadRequest, key+" must be a non-negative integer")
	}
	return n, nil
}

func (a *API) membersCreate(w http.ResponseWriter, r *http.Request) error {
	store, err := a.memberStore()
	if err != nil {
		return err
	}
	req := types.MemberCreate{Profile: newMemberProfile()}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validUsername(req.Username); err != nil {
		return err
	}
	if req.Password == "" {
		return httpError(http.StatusBadRequest, "password cannot be empty")
	}
	if req.Profile.Name == "" {
		req.Profile.Name = req.Username
	}
	id, err := store.Create(req.Username, req.Password, req.Profile)
	if err != nil {
		return memberError(err)
	}
	a.log.Info("member created", "member_id", id, "by", SessionFrom(r.Context()).ID())
	WriteJSON(w, http.StatusOK, types.MemberData{ID: id, Profile: req.Profile})
	return nil
}

// validUsername keeps ids printable: they appear in paths and logs.
func validUsername(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return httpError(http.StatusBadRequest, "username cannot be empty")
	case len(name) > maxMemberName:
		return httpError(http.StatusBadRequest, fmt.Sprintf("username is longer than %d bytes", maxMemberName))
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return httpError(http.StatusBadRequest, "username has invalid characters")
	}
	return nil
}

func (a *API) membersGet(w http.ResponseWriter, r *http.Request) error {
	p, err := a.memberProfile(r.PathValue("memberId"))
	if err != nil {
		return memberError(err)
	}
	WriteJSON(w, http.StatusOK, p)
	return nil
}

func (a *API) membersUpdate(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("memberId")
	cur, err := a.memberProfile(id)
	if err != nil {
		return memberError(err)
	}
	next := cloneProfile(cur)
	if err := decode(r, &next); err != nil {
		return err
	}
	if next.Name == "" {
		next.Name = cur.Name
	}
	if err := a.setMemberProfile(id, next); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) membersDelete(w http.ResponseWriter, r *http.Request) error {
	store, err := a.memberStore()
	if err != nil {
		return err
	}
	id := r.PathValue("memberId")
	if err := store.Delete(id); err != nil {
		return memberError(err)
	}
	a.endMemberSession(id)
	a.log.Info("member deleted", "member_id", id, "by", SessionFrom(r.Context()).ID())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) membersPassword(w http.ResponseWriter, r *http.Request) error {
	store, err := a.memberStore()
	if err != nil {
		return err
	}
	var req types.MemberPassword
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Password == "" {
		return httpError(http.StatusBadRequest, "password cannot be empty")
	}
	if err := store.UpdatePassword(r.PathValue("memberId"), req.Password); err != nil {
		return memberError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// membersBulkUpdate sets the body's profile fields on every listed member.
// Every id is looked up first: an unknown one answers 404 and changes
// nothing (the reference answers 500 after changing the members before it).
func (a *API) membersBulkUpdate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		IDs     []string        `json:"ids"`
		Profile json.RawMessage `json:"profile"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	var probe types.MemberProfile
	if len(req.Profile) > 0 {
		if err := json.Unmarshal(req.Profile, &probe); err != nil {
			return &HTTPError{Code: http.StatusBadRequest, Msg: "invalid JSON body", Err: err}
		}
	}
	ids := uniqueIDs(req.IDs)
	curs := make([]types.MemberProfile, len(ids))
	for i, id := range ids {
		cur, err := a.memberProfile(id)
		if errors.Is(err, member.ErrNotFound) {
			return &HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("member %q not found", id), Err: err}
		} else if err != nil {
			return memberError(err)
		}
		curs[i] = cur
	}
	for i, id := range ids {
		next := cloneProfile(curs[i])
		if len(req.Profile) > 0 {
			// Cannot fail: the same bytes decoded into probe above.
			_ = json.Unmarshal(req.Profile, &next)
		}
		if next.Name == "" {
			next.Name = curs[i].Name
		}
		if err := a.setMemberProfile(id, next); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// membersBulkDelete removes every listed member, after checking that all
// exist (an unknown id answers 404 and deletes nothing).
func (a *API) membersBulkDelete(w http.ResponseWriter, r *http.Request) error {
	store, err := a.memberStore()
	if err != nil {
		return err
	}
	var req types.MemberBulkDelete
	if err := decode(r, &req); err != nil {
		return err
	}
	ids := uniqueIDs(req.IDs)
	for _, id := range ids {
		if _, err := store.Get(id); errors.Is(err, member.ErrNotFound) {
			return &HTTPError{Code: http.StatusNotFound, Msg: fmt.Sprintf("member %q not found", id), Err: err}
		} else if err != nil {
			return memberError(err)
		}
	}
	by := SessionFrom(r.Context()).ID()
	for _, id := range ids {
		// Gone meanwhile is as good as deleted.
		if err := store.Delete(id); err != nil && !errors.Is(err, member.ErrNotFound) {
			return memberError(err)
		}
		a.endMemberSession(id)
		a.log.Info("member deleted", "member_id", id, "by", by)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// memberProfile is a member's profile: its live session's, else the stored
// one, else member.ErrNotFound.
func (a *API) memberProfile(id string) (types.MemberProfile, error) {
	if s, ok := a.opts.Sessions.Get(id); ok {
		return cloneProfile(s.Profile()), nil
	}
	store, err := member.StoreOf(a.opts.Members)
	if err != nil {
		return types.MemberProfile{}, member.ErrNotFound
	}
	return store.Get(id)
}

// setMemberProfile stores a member's profile (when the provider stores
// members) and makes its live session follow.
func (a *API) setMemberProfile(id string, p types.MemberProfile) error {
	store, err := member.StoreOf(a.opts.Members)
	if err != nil {
		// The member is its session.
		err := a.opts.Sessions.UpdateProfile(id, p)
		if errors.Is(err, session.ErrNotFound) {
			return memberError(fmt.Errorf("%w: %w", member.ErrNotFound, err))
		} else if err != nil {
			return &HTTPError{Code: http.StatusInternalServerError, Msg: "cannot update the session", Err: err}
		}
		return nil
	}
	if err := store.UpdateProfile(id, p); err != nil {
		return memberError(err)
	}
	if err := a.opts.Sessions.UpdateProfile(id, p); err != nil && !errors.Is(err, session.ErrNotFound) {
		a.log.Warn("member session not updated", "member_id", id, "err", err)
	}
	return nil
}

// endMemberSession logs a deleted member out.
func (a *API) endMemberSession(id string) {
	if err := a.opts.Sessions.Delete(id); err != nil && !errors.Is(err, session.ErrNotFound) {
		a.log.Warn("member session not deleted", "member_id", id, "err", err)
	}
}

func uniqueIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// cloneProfile copies the plugins map, so decoding a partial update into
// the copy cannot change the session's or the store's profile.
func cloneProfile(p types.MemberProfile) types.MemberProfile {
	p.Plugins = maps.Clone(p.Plugins)
	return p
}
