package api

import "net/http"

func (a *API) registerBatch(mux *http.ServeMux) {}
