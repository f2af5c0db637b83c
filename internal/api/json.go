package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/neko-webrtc/neko/pkg/types"
)

// maxBody caps JSON request bodies; none of ours is legitimately larger.
const maxBody = 1 << 20

// HTTPError is the one error type handlers return; it becomes the status
// code and {"message": ...} body.
type HTTPError struct {
	Code int
	Msg  string
	Err  error
}

func (e *HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Msg, e.Err)
	}
	return e.Msg
}

func (e *HTTPError) Unwrap() error { return e.Err }

func httpError(code int, msg string) *HTTPError { return &HTTPError{Code: code, Msg: msg} }

// decode reads exactly one JSON value of at most maxBody bytes.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: "request body too large", Err: err}
		}
		return &HTTPError{Code: http.StatusBadRequest, Msg: "invalid JSON body", Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return httpError(http.StatusBadRequest, "invalid JSON body: trailing data")
	}
	return nil
}

// WriteJSON writes v with the given status.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes err as the running reference does: {"code": status,
// "message": ...} (clients read the message).
func WriteError(w http.ResponseWriter, err error) {
	var he *HTTPError
	if !errors.As(err, &he) {
		he = &HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
	}
	WriteJSON(w, he.Code, types.ErrorMessage{Code: he.Code, Message: he.Msg})
}
