package api

import (
	"net/http"
	"strconv"

	"github.com/neko-webrtc/neko/pkg/types"
)

// defaultShotQuality is the JPEG quality of a screenshot without ?quality=.
const defaultShotQuality = 90

func (a *API) screenGet(w http.ResponseWriter, r *http.Request) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	size, err := d.Screen()
	if err != nil {
		return desktopError(err, "cannot read the screen size")
	}
	WriteJSON(w, http.StatusOK, size)
	return nil
}

// screenSet switches the screen and answers the configuration now in
// effect; everyone hears of it through screen/updated with the caller as
// id. A size the screen neither offers nor can add is 422, unchanged.
func (a *API) screenSet(w http.ResponseWriter, r *http.Request) error {
	var want types.ScreenSize
	if err := decode(r, &want); err != nil {
		return err
	}
	d, err := a.desktop()
	if err != nil {
		return err
	}
	got, err := d.SetScreenSize(want, SessionFrom(r.Context()).ID())
	if err != nil {
		return desktopError(err, "cannot set the screen size")
	}
	WriteJSON(w, http.StatusOK, got)
	return nil
}

func (a *API) screenConfigurations(w http.ResponseWriter, r *http.Request) error {
	d, err := a.desktop()
	if err != nil {
		return err
	}
	list, err := d.ScreenConfigurations()
	if err != nil {
		return desktopError(err, "cannot list the screen configurations")
	}
	if list == nil {
		list = []types.ScreenSize{}
	}
	WriteJSON(w, http.StatusOK, list)
	return nil
}

// screenShot answers a JPEG of the screen; ?quality= is 0-100 (default 90).
func (a *API) screenShot(w http.ResponseWriter, r *http.Request) error {
	quality := defaultShotQuality
	if q := r.URL.Query().Get("quality"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 || n > 100 {
			return httpError(http.StatusBadRequest, "quality must be an integer from 0 to 100")
		}
		quality = n
	}
	d, err := a.desktop()
	if err != nil {
		return err
	}
	img, err := d.ScreenshotJPEG(quality)
	if err != nil {
		return desktopError(err, "cannot take a screenshot")
	}
	noStore(w, "image/jpeg")
	_, _ = w.Write(img)
	return nil
}
