package stack

import (
	"fmt"

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

// Close removes the window.
func (p *Painter) Close() { p.conn.Close() }
