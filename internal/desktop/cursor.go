package desktop

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"sync"
	"sync/atomic"

	"github.com/jezek/xgb/xfixes"
)

// ErrNoXFixes is returned by features that need the XFixes extension.
var ErrNoXFixes = errors.New("desktop: the X server has no XFixes extension")

// CursorImage is the cursor the X server shows.
type CursorImage struct {
	// Serial changes whenever the cursor does.
	Serial        uint32
	Width, Height int
	// Xhot and Yhot are the hotspot: the pixel at the pointer position.
	Xhot, Yhot int
	// Image holds the pixels (alpha-premultiplied, as X delivers them).
	Image *image.RGBA
	// PNG is Image encoded, ready to send.
	PNG []byte
}

type cursorState struct {
	mu   sync.Mutex
	last *CursorImage

	// position holds the OnCursorPosition listeners (copy on write).
	position atomic.Pointer[[]func(x, y int)]
}

func (c *cursorState) moved(x, y int) {
	if list := c.position.Load(); list != nil {
		for _, fn := range *list {
			fn(x, y)
		}
	}
}

// CursorImage returns the current cursor image.
func (d *Desktop) CursorImage() (CursorImage, error) {
	d.cur.mu.Lock()
	last := d.cur.last
	d.cur.mu.Unlock()
	if last != nil {
		return *last, nil
	}
	img, err := d.fetchCursor()
	if err != nil {
		return CursorImage{}, err
	}
	d.cur.mu.Lock()
	if d.cur.last == nil {
		d.cur.last = img
	}
	d.cur.mu.Unlock()
	return *img, nil
}

// cursorChanged runs on the cursor watcher after an XFixes cursor
// notification.
func (d *Desktop) cursorChanged() {
	img, err := d.fetchCursor()
	if err != nil {
		if d.usable() == nil {
			d.log.Warn("read cursor image", "err", err)
		}
		return
	}
	d.cur.mu.Lock()
	same := d.cur.last != nil && d.cur.last.Serial == img.Serial
	d.cur.last = img
	d.cur.mu.Unlock()
	if same {
		return
	}
	for _, fn := range snapshot(d, &d.listeners.cursor) {
		fn(*img)
	}
}

func (d *Desktop) fetchCursor() (img *CursorImage, err error) {
	if !d.xfixes {
		return nil, ErrNoXFixes
	}
	if err := d.usable(); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("desktop: malformed cursor image reply: %v", r)
		}
	}()
	r, err := xfixes.GetCursorImage(d.conn).Reply()
	if err != nil {
		return nil, fmt.Errorf("desktop: cursor image: %w", err)
	}
	w, h := int(r.Width), int(r.Height)
	if len(r.CursorImage) < w*h {
		return nil, fmt.Errorf("desktop: cursor image has %d pixels for %dx%d", len(r.CursorImage), w, h)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, p := range r.CursorImage[:w*h] {
		// ARGB, premultiplied like image.RGBA.
		rgba.Pix[4*i+0] = byte(p >> 16)
		rgba.Pix[4*i+1] = byte(p >> 8)
		rgba.Pix[4*i+2] = byte(p)
		rgba.Pix[4*i+3] = byte(p >> 24)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, rgba); err != nil {
		return nil, fmt.Errorf("desktop: encode cursor: %w", err)
	}
	return &CursorImage{
		Serial: r.CursorSerial, Width: w, Height: h, Xhot: int(r.Xhot), Yhot: int(r.Yhot),
		Image: rgba, PNG: buf.Bytes(),
	}, nil
}
