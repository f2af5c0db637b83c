package plugins

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Flag reads a boolean plugin key such as "chat.can_send" from a plugins
// map (Settings.Plugins or MemberProfile.Plugins). ok is false when the
// key is absent.
//
// The reference stores keys flat ({"chat.can_send": false}); the nested
// form ({"chat": {"can_send": false}}) is accepted too, the flat key
// winning. Values may be booleans, strings strconv.ParseBool accepts
// (configuration from the environment arrives as strings) or numbers
// (0 is false); anything else is an error.
func Flag(m map[string]any, key string) (v, ok bool, err error) {
	raw, found := m[key]
	if !found {
		plugin, sub, dotted := strings.Cut(key, ".")
		if nested, isMap := m[plugin].(map[string]any); dotted && isMap {
			raw, found = nested[sub]
		}
	}
	if !found || raw == nil {
		return false, false, nil
	}
	switch x := raw.(type) {
	case bool:
		return x, true, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, true, fmt.Errorf("plugin setting %s: %q is not a boolean", key, x)
		}
		return b, true, nil
	case float64:
		return x != 0, true, nil
	case int:
		return x != 0, true, nil
	case int64:
		return x != 0, true, nil
	}
	return false, true, fmt.Errorf("plugin setting %s: %T is not a boolean", key, raw)
}

// allows reads key with the reference's default: absent allows; a value
// that is not a boolean denies (the reference refuses on a decode error).
func allows(m map[string]any, key string) bool {
	v, ok, err := Flag(m, key)
	if err != nil {
		return false
	}
	return !ok || v
}

// Allowed applies a plugin permission the way every reference plugin
// does: the room setting must allow it unless the session is an admin,
// and the member's own profile must allow it, admins included. Absent
// keys allow.
func Allowed(settings types.Settings, profile types.MemberProfile, key string) bool {
	return (allows(settings.Plugins, key) || profile.IsAdmin) && allows(profile.Plugins, key)
}
