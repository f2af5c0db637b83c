package filetransfer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"

	"github.com/neko-webrtc/neko/internal/api"
	"github.com/neko-webrtc/neko/internal/session"
)

// formSlack is what multipart framing may add to the files of an upload.
const formSlack = 1 << 20

// action is what a request wants to do; non-admins need its user_* option.
type action int

const (
	actDownload action = iota
	actUpload
	actDelete
)

func (f *FileTransfer) Routes(mux *http.ServeMux, a *api.API) {
	for _, p := range []string{"/api/filetransfer", "/api/filetransfer/{$}"} {
		mux.Handle("GET "+p, a.Auth(f.download))
		mux.Handle("POST "+p, a.Auth(f.upload))
		mux.Handle("DELETE "+p, a.Auth(f.delete))
	}
}

// authorize applies the permission checks in the reference's order, before
// the file name is looked at.
func (f *FileTransfer) authorize(s *session.Session, act action) error {
	if !f.allowed(s) || f.root == nil {
		return api.Error(http.StatusForbidden, "file transfer is disabled")
	}
	if s.Profile().IsAdmin {
		return nil
	}
	switch act {
	case actDownload:
		if !f.opts.UserDownload {
			return api.Error(http.StatusForbidden, "file download is not allowed for non-admin users")
		}
	case actUpload:
		if !f.opts.UserUpload {
			return api.Error(http.StatusForbidden, "file upload is not allowed for non-admin users")
		}
	case actDelete:
		if !f.opts.UserDelete {
			return api.Error(http.StatusForbidden, "file delete is not allowed for non-admin users")
		}
	}
	return nil
}

// nameFrom reads and checks ?filename=.
func nameFrom(r *http.Request) (string, error) {
	name := r.URL.Query().Get("filename")
	if ValidName(name) != nil {
		return "", api.Error(http.StatusBadRequest, "bad filename")
	}
	return name, nil
}

// statusOf maps an os.Root error: a missing entry is 404; anything else
// (in particular a symbolic link leading out of the directory) is 403.
func statusOf(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &api.HTTPError{Code: http.StatusNotFound, Msg: "file not found", Err: err}
	}
	return &api.HTTPError{Code: http.StatusForbidden, Msg: "file is not accessible", Err: err}
}

// download serves one file with ranges, conditional requests and HEAD
// (http.ServeContent), as an attachment.
func (f *FileTransfer) download(w http.ResponseWriter, r *http.Request) error {
	if err := f.authorize(api.SessionFrom(r.Context()), actDownload); err != nil {
		return err
	}
	name, err := nameFrom(r)
	if err != nil {
		return err
	}
	file, err := f.root.Open(name)
	if err != nil {
		return statusOf(err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return api.Error(http.StatusBadRequest, "not a file")
	}
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if disp == "" {
		disp = "attachment"
	}
	w.Header().Set("Content-Disposition", disp)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, info.ModTime(), file)
	return nil
}

// staged is an uploaded file written under a temporary name.
type staged struct{ tmp, name string }

// upload streams each part of field "files" to a temporary file in the
// directory; only when the whole request was read are they renamed into
// place, so a refused or broken request leaves the directory unchanged.
func (f *FileTransfer) upload(w http.ResponseWriter, r *http.Request) error {
	if err := f.authorize(api.SessionFrom(r.Context()), actUpload); err != nil {
		return err
	}
	limit := f.opts.MaxUpload
	if r.ContentLength > limit+formSlack {
		return api.Error(http.StatusRequestEntityTooLarge, "upload too large")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+formSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return &api.HTTPError{Code: http.StatusBadRequest, Msg: "error parsing form", Err: err}
	}

	var files []staged
	defer func() {
		for _, s := range files {
			if s.tmp != "" {
				_ = f.root.Remove(s.tmp)
			}
		}
	}()
	var total int64
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		if part.FormName() != "files" {
			if _, err := io.Copy(io.Discard, part); err != nil {
				return bodyError(err)
			}
			continue
		}
		name := rawFileName(part)
		if ValidName(name) != nil {
			return api.Error(http.StatusBadRequest, "bad filename")
		}
		tmp, n, err := f.stage(part, limit-total)
		if tmp != "" {
			files = append(files, staged{tmp: tmp, name: name})
		}
		total += n
		if err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return api.Error(http.StatusBadRequest, "no files in field \"files\"")
	}
	// Refuse before renaming anything if a target is a directory.
	for _, s := range files {
		if info, err := f.root.Lstat(s.name); err == nil && info.IsDir() {
			return api.Error(http.StatusConflict, "a directory has that name")
		}
	}
	for i, s := range files {
		if err := f.root.Rename(s.tmp, s.name); err != nil {
			return &api.HTTPError{Code: http.StatusInternalServerError, Msg: "error writing file", Err: err}
		}
		files[i].tmp = ""
	}
	f.log.Info("files uploaded", "session_id", api.SessionFrom(r.Context()).ID(), "files", len(files), "bytes", total)
	f.refreshAndBroadcast()
	w.WriteHeader(http.StatusOK)
	return nil
}

// stage copies at most room bytes of part to a new temporary file. It
// returns the temporary name (empty if none was created) and the bytes
// written.
func (f *FileTransfer) stage(part *multipart.Part, room int64) (string, int64, error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmp := tempPrefix + hex.EncodeToString(rnd[:])
	out, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", 0, &api.HTTPError{Code: http.StatusInternalServerError, Msg: "error opening file for writing", Err: err}
	}
	n, err := io.Copy(out, io.LimitReader(part, room+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return tmp, n, bodyError(err)
	case n > room:
		return tmp, n, api.Error(http.StatusRequestEntityTooLarge, "upload too large")
	}
	return tmp, n, nil
}

// rawFileName is the part's filename parameter as sent: Part.FileName
// would reduce "../../x" to "x" and hide the attempt.
func rawFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

// bodyError maps a failure reading the request body.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &api.HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: "upload too large", Err: err}
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return &api.HTTPError{Code: http.StatusInternalServerError, Msg: "error writing file", Err: err}
	}
	return &api.HTTPError{Code: http.StatusBadRequest, Msg: "error reading upload", Err: err}
}

// delete removes one file (or symbolic link; never what it points to).
// Directories are refused.
func (f *FileTransfer) delete(w http.ResponseWriter, r *http.Request) error {
	if err := f.authorize(api.SessionFrom(r.Context()), actDelete); err != nil {
		return err
	}
	name, err := nameFrom(r)
	if err != nil {
		return err
	}
	info, err := f.root.Lstat(name)
	if err != nil {
		return statusOf(err)
	}
	if info.IsDir() {
		return api.Error(http.StatusBadRequest, "cannot delete a directory")
	}
	// Removing a link only removes the link, but one that leads out of
	// the directory is not ours to touch (nor listed): refused like a
	// download of it. A dangling link inside may go.
	if info.Mode()&fs.ModeSymlink != 0 {
		if _, err := f.root.Stat(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return statusOf(err)
		}
	}
	if err := f.root.Remove(name); err != nil {
		return statusOf(err)
	}
	f.log.Info("file deleted", "session_id", api.SessionFrom(r.Context()).ID(), "file", name)
	f.refreshAndBroadcast()
	w.WriteHeader(http.StatusOK)
	return nil
}
