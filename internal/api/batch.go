package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/neko-webrtc/neko/pkg/types"
)

// maxBatch bounds the work one batch request can cause.
const maxBatch = 64

type batchRequest struct {
	Path   string          `json:"path"`
	Method string          `json:"method"`
	Body   json.RawMessage `json:"body,omitempty"`
}

type batchResponse struct {
	Path   string          `json:"path"`
	Method string          `json:"method"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
}

func (a *API) registerBatch(mux *http.ServeMux) {
	a.mux = mux
	// The batch call itself needs no credentials (as in the running
	// reference): each item runs with the caller's, so without any every
	// item answers 401.
	mux.Handle("POST /api/batch", a.public(a.batch))
}

func (a *API) batch(w http.ResponseWriter, r *http.Request) error {
	var reqs []batchRequest
	if err := decode(r, &reqs); err != nil {
		return err
	}
	if len(reqs) > maxBatch {
		return httpError(http.StatusBadRequest, "too many requests in one batch")
	}
	out := make([]batchResponse, 0, len(reqs))
	for _, br := range reqs {
		resp := batchResponse{Path: br.Path, Method: br.Method}
		method := strings.ToUpper(br.Method)
		switch {
		case method != http.MethodGet && method != http.MethodPost && method != http.MethodDelete:
			resp.Status = http.StatusBadRequest
			resp.Body = errorBody(resp.Status, "method must be GET, POST or DELETE")
		case !strings.HasPrefix(br.Path, "/api/") || strings.HasPrefix(br.Path, "/api/batch") || strings.HasPrefix(br.Path, "/api/ws"):
			resp.Status = http.StatusBadRequest
			resp.Body = errorBody(resp.Status, "path must be an /api/ endpoint other than batch and ws")
		default:
			resp.Status, resp.Body = a.runOne(r, method, br)
		}
		out = append(out, resp)
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

// runOne serves one item in-process with the caller's credentials.
func (a *API) runOne(parent *http.Request, method string, br batchRequest) (int, json.RawMessage) {
	var body []byte
	if len(br.Body) > 0 && string(br.Body) != "null" {
		body = br.Body
	}
	req, err := http.NewRequestWithContext(parent.Context(), method, br.Path, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "invalid path")
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Forwarded-For", "X-Forwarded-Proto"} {
		if v := parent.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = parent.RemoteAddr
	req.TLS = parent.TLS
	rec := httptest.NewRecorder()
	a.mux.ServeHTTP(rec, req)
	raw := bytes.TrimSpace(rec.Body.Bytes())
	if len(raw) == 0 {
		return rec.Code, nil
	}
	if !json.Valid(raw) {
		// Binary answers (images) do not fit in JSON; say so.
		return rec.Code, errorBody(rec.Code, "response is not JSON: call the endpoint directly")
	}
	return rec.Code, raw
}

func errorBody(code int, msg string) json.RawMessage {
	b, _ := json.Marshal(types.ErrorMessage{Code: code, Message: msg})
	return b
}
