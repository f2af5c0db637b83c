package api

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neko-webrtc/neko/internal/desktop"
)

// uploadLimits cap one upload request.
type uploadLimits struct {
	files int   // files per request
	bytes int64 // bytes of all files together
}

var defaultUploadLimits = uploadLimits{files: 64, bytes: 512 << 20}

// maxFileName bounds a stored file name, in bytes.
const maxFileName = 200

// Uploads need the host (or, with implicit hosting, anyone who may host),
// as in the running reference.
func (a *API) registerUpload(mux *http.ServeMux) {
	mux.Handle("POST /api/room/upload/drop", a.host(func(w http.ResponseWriter, r *http.Request) error {
		return a.uploadDrop(w, r, defaultUploadLimits)
	}))
	mux.Handle("POST /api/room/upload/dialog", a.host(func(w http.ResponseWriter, r *http.Request) error {
		return a.uploadDialog(w, r, defaultUploadLimits)
	}))
	mux.Handle("DELETE /api/room/upload/dialog", a.host(a.uploadDialogClose))
}

// uploadDrop stores the files of a multipart form (fields x, y, files) in a
// private directory and drops them onto the window at x,y (204).
func (a *API) uploadDrop(w http.ResponseWriter, r *http.Request, limits uploadLimits) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	if !d.UploadDropEnabled() {
		return httpError(http.StatusBadRequest, "upload drop is disabled")
	}
	var x, y *int
	up, err := receiveUpload(w, r, d, limits, func(name string, part *multipart.Part) error {
		if name != "x" && name != "y" {
			return nil
		}
		v, err := formInt(part)
		if err != nil {
			return httpError(http.StatusBadRequest, "invalid "+name+" coordinate")
		}
		if name == "x" {
			x = &v
		} else {
			y = &v
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer up.discard()
	if x == nil || y == nil {
		return httpError(http.StatusBadRequest, "x and y coordinates are required")
	}
	if err := up.require(); err != nil {
		return err
	}
	if err := d.DropFiles(r.Context(), *x, *y, up.paths); err != nil {
		return dropError(err)
	}
	up.keep()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadDialog stores the files of a multipart form (field files) in a
// private directory and chooses them in the open file chooser dialog
// (204; 422 without one).
func (a *API) uploadDialog(w http.ResponseWriter, r *http.Request, limits uploadLimits) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	if !d.FileChooserDialogEnabled() {
		return httpError(http.StatusBadRequest, desktop.ErrFileChooserDisabled.Error())
	}
	if !d.FileChooserOpen() {
		return httpError(http.StatusUnprocessableEntity, desktop.ErrNoFileChooser.Error())
	}
	up, err := receiveUpload(w, r, d, limits, nil)
	if err != nil {
		return err
	}
	defer up.discard()
	if err := up.require(); err != nil {
		return err
	}
	if err := d.FileChooserUpload(r.Context(), up.paths); err != nil {
		return fileChooserError(err, "cannot upload to the file chooser dialog")
	}
	// The page reads the files when it likes: they stay until the
	// desktop closes.
	up.keep()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadDialogClose cancels the open file chooser dialog (204; 422
// without one).
func (a *API) uploadDialogClose(w http.ResponseWriter, r *http.Request) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	if err := d.FileChooserClose(r.Context()); err != nil {
		return fileChooserError(err, "cannot close the file chooser dialog")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func fileChooserError(err error, msg string) error {
	switch {
	case errors.Is(err, desktop.ErrFileChooserDisabled):
		return &HTTPError{Code: http.StatusBadRequest, Msg: err.Error(), Err: err}
	case errors.Is(err, desktop.ErrNoFileChooser):
		return &HTTPError{Code: http.StatusUnprocessableEntity, Msg: desktop.ErrNoFileChooser.Error(), Err: err}
	}
	return desktopError(err, msg)
}

// upload is the files of one request, stored in a private directory.
type upload struct {
	dir   string
	paths []string
	kept  bool
}

// receiveUpload reads a multipart body into a fresh upload directory:
// every "files" part becomes a file under a sanitised, unique name, within
// limits; other parts go to field (nil: ignored). On error nothing is left
// behind; otherwise the caller calls discard, after keep if the files are
// to stay.
func receiveUpload(w http.ResponseWriter, r *http.Request, d Desktop, limits uploadLimits,
	field func(name string, part *multipart.Part) error) (*upload, error) {
	r.Body = http.MaxBytesReader(w, r.Body, limits.bytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, &HTTPError{Code: http.StatusBadRequest, Msg: "expected a multipart/form-data body", Err: err}
	}
	dir, err := d.UploadDir()
	if err != nil {
		return nil, desktopError(err, "cannot store the upload")
	}
	up := &upload{dir: dir}
	if err := up.read(mr, limits, field); err != nil {
		up.discard()
		return nil, err
	}
	return up, nil
}

func (up *upload) read(mr *multipart.Reader, limits uploadLimits, field func(string, *multipart.Part) error) error {
	used := map[string]bool{}
	budget := limits.bytes
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return uploadReadError(err, limits)
		}
		switch name := part.FormName(); {
		case name == "files" && part.FileName() != "":
			if len(up.paths) == limits.files {
				return httpError(http.StatusRequestEntityTooLarge, fmt.Sprintf("at most %d files per upload", limits.files))
			}
			p := filepath.Join(up.dir, uniqueName(sanitizeFileName(part.FileName()), used))
			n, err := saveFile(p, part, budget, limits)
			if err != nil {
				return err
			}
			budget -= n
			up.paths = append(up.paths, p)
		case field != nil:
			if err := field(name, part); err != nil {
				return err
			}
		}
		part.Close()
	}
}

// require fails the request if no file came.
func (up *upload) require() error {
	if len(up.paths) == 0 {
		return httpError(http.StatusBadRequest, "no files received")
	}
	return nil
}

// keep leaves the files in place; discard removes them unless kept.
func (up *upload) keep() { up.kept = true }

func (up *upload) discard() {
	if !up.kept {
		_ = os.RemoveAll(up.dir)
	}
}

func dropError(err error) error {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, desktop.ErrDropOutside), errors.Is(err, desktop.ErrDropDisabled):
		code = http.StatusBadRequest
	case errors.Is(err, desktop.ErrDropNoTarget), errors.Is(err, desktop.ErrDropRefused):
		code = http.StatusUnprocessableEntity
	default:
		return desktopError(err, "cannot drop the files")
	}
	return &HTTPError{Code: code, Msg: err.Error(), Err: err}
}

func uploadReadError(err error, limits uploadLimits) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return limits.tooLarge(err)
	}
	return &HTTPError{Code: http.StatusBadRequest, Msg: "malformed multipart body", Err: err}
}

func (l uploadLimits) tooLarge(err error) error {
	return &HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("uploads are limited to %d MiB in all", l.bytes>>20), Err: err}
}

// formInt reads a small integer form field.
func formInt(part *multipart.Part) (int, error) {
	b, err := io.ReadAll(io.LimitReader(part, 33))
	if err != nil || len(b) > 32 {
		return 0, errors.New("bad field")
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// saveFile writes one uploaded file, refusing more than budget bytes.
func saveFile(path string, part io.Reader, budget int64, limits uploadLimits) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, &HTTPError{Code: http.StatusInternalServerError, Msg: "cannot store the upload", Err: err}
	}
	n, err := io.Copy(f, io.LimitReader(part, budget+1))
	if cerr := f.Close(); err == nil && cerr != nil {
		return 0, &HTTPError{Code: http.StatusInternalServerError, Msg: "cannot store the upload", Err: cerr}
	}
	if err != nil {
		return 0, uploadReadError(err, limits)
	}
	if n > budget {
		return 0, limits.tooLarge(nil)
	}
	return n, nil
}

// sanitizeFileName makes a client's file name safe to store: the last path
// element only, valid UTF-8, no control characters, no leading dot (no
// "..", no hidden files), at most maxFileName bytes (keeping the
// extension), never empty.
func sanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if strings.HasPrefix(name, ".") {
		name = "_" + strings.TrimLeft(name, ".")
	}
	if name == "" || name == "_" {
		name = "file"
	}
	if len(name) > maxFileName {
		ext := filepath.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		stem := name[:maxFileName-len(ext)]
		for !utf8.ValidString(stem) { // cut at a rune boundary
			stem = stem[:len(stem)-1]
		}
		name = stem + ext
	}
	return name
}

// uniqueName returns name, or "name (2).ext" and so on if taken.
func uniqueName(name string, used map[string]bool) string {
	out := name
	ext := filepath.Ext(name)
	for i := 2; used[out]; i++ {
		out = fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(name, ext), i, ext)
	}
	used[out] = true
	return out
}
