package stack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Painter shows a solid colour over the whole screen with its own X
// window, so tests know exactly what the capture must deliver.
type Painter struct {
	conn *xgb.Conn
	win  xproto.Window
	w, h uint16
}

// NewPainter opens a full-screen override-redirect window on display.
func NewPainter(display string, r, g, b uint8) (*Painter, error) {
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("paint: connect %s: %w", display, err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	win, err := xproto.NewWindowId(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &Painter{conn: conn, win: win, w: screen.WidthInPixels, h: screen.HeightInPixels}
	err = xproto.CreateWindowChecked(conn, screen.RootDepth, win, screen.Root, 0, 0, p.w, p.h, 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{rgb(r, g, b), 1}).Check()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("paint: create window: %w", err)
	}
	if err := xproto.MapWindowChecked(conn, win).Check(); err != nil {
		conn.Close()
		return nil, err
	}
	return p, nil
}

func rgb(r, g, b uint8) uint32 { return uint32(r)<<16 | uint32(g)<<8 | uint32(b) }

// Fill repaints the window with a colour.
func (p *Painter) Fill(r, g, b uint8) error {
	if err := xproto.ChangeWindowAttributesChecked(p.conn, p.win, xproto.CwBackPixel, []uint32{rgb(r, g, b)}).Check(); err != nil {
		return err
	}
	return xproto.ClearAreaChecked(p.conn, false, p.win, 0, 0, 0, 0).Check()
}

// Pointer returns the pointer position on the root window.
func (p *Painter) Pointer() (int, int, error) {
	reply, err := xproto.QueryPointer(p.conn, xproto.Setup(p.conn).DefaultScreen(p.conn).Root).Reply()
	if err != nil {
		return 0, 0, err
	}
	return int(reply.RootX), int(reply.RootY), nil
}

// Noise paints random pixels into a w x h block at (x, y), fps times a
// second, until ctx ends: content no encoder can compress, so every
// quality runs at its full bit rate. It returns when ctx is done.
func (p *Painter) Noise(ctx context.Context, x, y int16, w, h uint16, fps int) error {
	gc, err := xproto.NewGcontextId(p.conn)
	if err != nil {
		return err
	}
	if err := xproto.CreateGCChecked(p.conn, gc, xproto.Drawable(p.win), 0, nil).Check(); err != nil {
		return fmt.Errorf("paint: create gc: %w", err)
	}
	defer xproto.FreeGC(p.conn, gc)
	buf := make([]byte, int(w)*int(h)*4)
	rng := rand.NewChaCha8([32]byte{1})
	t := time.NewTicker(time.Second / time.Duration(fps))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_, _ = rng.Read(buf)
		// In strips: a core X request is at most 256 KiB.
		rows := max(1, 200_000/(int(w)*4))
		for r := 0; r < int(h); r += rows {
			n := min(rows, int(h)-r)
			strip := buf[r*int(w)*4 : (r+n)*int(w)*4]
			if err := xproto.PutImageChecked(p.conn, xproto.ImageFormatZPixmap, xproto.Drawable(p.win), gc,
				w, uint16(n), x, y+int16(r), 0, 24, strip).Check(); err != nil {
				return fmt.Errorf("paint: put image: %w", err)
			}
		}
	}
}

// Close removes the window.
func (p *Painter) Close() { p.conn.Close() }
