package filetransfer

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadName is a file name that is not one plain entry of the directory.
var ErrBadName = errors.New("bad filename")

// maxName is the usual file system limit on one name, in bytes.
const maxName = 255

// tempPrefix marks uploads in progress; such names are hidden from the
// list and cannot be named by clients.
const tempPrefix = ".neko-upload-"

// ValidName accepts only a single, plain entry name of the transfer
// directory: no separators (so no "../", no absolute paths; query values
// arrive URL-decoded, so %2e%2e%2f is "../" here), not "." or "..", no
// NUL or other control characters, valid UTF-8, at most 255 bytes. The
// reference strips such names to their base name instead; refusing them
// leaves nothing to interpretation. Symbolic links are not judged here:
// os.Root refuses any that lead out of the directory.
func ValidName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return ErrBadName
	case len(name) > maxName:
		return ErrBadName
	case !utf8.ValidString(name):
		return ErrBadName
	case strings.ContainsAny(name, `/\`):
		return ErrBadName
	case strings.HasPrefix(name, tempPrefix):
		return ErrBadName
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ErrBadName
		}
	}
	return nil
}
