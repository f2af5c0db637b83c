// Package errs holds the member sentinel errors. Package member re-exports
// them; the providers import this leaf package instead of member, so that
// member can construct the providers without an import cycle.
package errs

import "errors"

var (
	// ErrInvalidCredentials means the username or password is wrong.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrUsernameRequired means the login had no username.
	ErrUsernameRequired = errors.New("username is required")
	// ErrNotFound means no stored member has the id.
	ErrNotFound = errors.New("member not found")
	// ErrExists means a stored member already has the id.
	ErrExists = errors.New("member already exists")
	// ErrNotSupported means the provider does not store members.
	ErrNotSupported = errors.New("members are not stored by this member provider")
)
