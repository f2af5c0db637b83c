package session

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

func equalToken(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// TokenFromRequest finds the session token of a request: the
// Authorization: Bearer header, the ?token= query, then the cookie.
func TokenFromRequest(r *http.Request, cookieName string) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
}
