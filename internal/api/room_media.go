package api

import (
	"context"
	"net/http"

	"github.com/neko-webrtc/neko/pkg/types"
)

// Media is what the room endpoints need from capture: the JPEG screencast
// and the RTMP broadcast. Errors it returns should be *HTTPError (see
// Error) to choose their status.
type Media interface {
	ScreencastEnabled() bool
	ScreencastImage(ctx context.Context) ([]byte, error)
	BroadcastStart(url string) error
	BroadcastStop() error
	BroadcastStatus() types.BroadcastStatus
}

// The screencast needs can_watch (like every /api/room/screen route of the
// reference) and answers 400 when capture.screencast.enabled is off; the
// broadcast is for admins.
func (a *API) registerMedia(mux *http.ServeMux) {
	mux.Handle("GET /api/room/screen/cast.jpg", a.watcher(a.screenCast))
	mux.Handle("GET /api/room/broadcast", a.admin(a.broadcastStatus))
	mux.Handle("POST /api/room/broadcast/start", a.admin(a.broadcastStart))
	mux.Handle("POST /api/room/broadcast/stop", a.admin(a.broadcastStop))
}

func (a *API) screenCast(w http.ResponseWriter, r *http.Request) error {
	s := SessionFrom(r.Context())
	if a.opts.Sessions.Settings().PrivateMode && !s.Profile().IsAdmin {
		return httpError(http.StatusBadRequest, "private mode is enabled but no fallback image available")
	}
	m := a.opts.Media
	if m == nil || !m.ScreencastEnabled() {
		return httpError(http.StatusBadRequest, "screencast pipeline is not enabled")
	}
	img, err := m.ScreencastImage(r.Context())
	if err != nil {
		return &HTTPError{Code: http.StatusInternalServerError, Msg: "screencast image unavailable", Err: err}
	}
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Content-Type", "image/jpeg")
	_, err = w.Write(img)
	return err
}

func (a *API) broadcastStatus(w http.ResponseWriter, r *http.Request) error {
	st := types.BroadcastStatus{}
	if a.opts.Media != nil {
		st = a.opts.Media.BroadcastStatus()
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

type broadcastRequest struct {
	URL string `json:"url"`
}

func (a *API) broadcastStart(w http.ResponseWriter, r *http.Request) error {
	var req broadcastRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.URL == "" {
		return httpError(http.StatusBadRequest, "missing broadcast URL")
	}
	if a.opts.Media == nil {
		return httpError(http.StatusInternalServerError, "broadcast is not available")
	}
	if err := a.opts.Media.BroadcastStart(req.URL); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) broadcastStop(w http.ResponseWriter, r *http.Request) error {
	if a.opts.Media == nil {
		return httpError(http.StatusUnprocessableEntity, "server is not broadcasting")
	}
	if err := a.opts.Media.BroadcastStop(); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
