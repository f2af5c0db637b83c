// Package ximage grabs the X screen in pure Go (xgb over the X socket,
// MIT-SHM when the server shares memory with us, plain GetImage when not).
//
// It replaces GStreamer's ximagesrc for the server's own captures, because
// ximagesrc goes through Xlib, and Xlib has a process-wide lock that a
// second display opening while another capture holds a server grab
// deadlocks on (docs/architecture.md); Xlib also ends the whole process
// when the X server goes away. Here each Grabber has its own connection
// and no lock is shared (extensions are set up through internal/xext),
// and a lost server is an error like any other.
package ximage

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
	"github.com/neko-webrtc/neko/internal/xext"
	"golang.org/x/sys/unix"
)

// ErrFormat is returned for a screen whose pixels are not 32-bit
// little-endian xRGB (BGRx in memory), the only layout converted here.
var ErrFormat = errors.New("ximage: unsupported screen pixel format")

// Grabber captures the root window of one display. It is not safe for
// concurrent use.
type Grabber struct {
	conn   *xgb.Conn
	root   xproto.Window
	width  int
	height int
	cursor bool // XFixes is there

	// MIT-SHM: Grab has the server write into own.
	shm bool
	own *Segment

	// DAMAGE: the server says when the screen changed after a grab.
	damage    damage.Damage
	hasDamage bool
	damaged   chan struct{}

	// The size the server last reported (ConfigureNotify on the root),
	// applied by Refresh; written by the event reader.
	mu                 sync.Mutex
	pendingW, pendingH int
	// grabSeq is the sequence number of the last grab request: a damage
	// report made before the server handled it is in that frame already.
	grabSeq atomic.Uint32
}

// Segment is shared memory the server writes a frame into.
type Segment struct {
	seg           shm.Seg
	mem           []byte
	Width, Height int
}

// Pixels are the frame's BGRx rows. The memory is not Go's: it may be
// lent to C code (GStreamer) as long as the segment is not freed.
func (s *Segment) Pixels() []byte { return s.mem[:s.Width*s.Height*4] }

// Unmap detaches s on this side only: for a segment still held when its
// connection is gone (the server detached it when the connection closed).
func (s *Segment) Unmap() {
	if s.mem != nil {
		_ = unix.SysvShmDetach(s.mem)
		s.mem = nil
	}
}

// Size is the size of the frames the segment holds.
func (s *Segment) Size() (width, height int) { return s.Width, s.Height }

// Open connects to display and prepares a capture at the screen's
// current size.
func Open(display string) (g *Grabber, err error) {
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("ximage: connect to %q: %w", display, err)
	}
	g = &Grabber{conn: conn}
	defer func() {
		if err != nil {
			g.Close()
			g = nil
		}
		// xgb panics on some malformed replies.
		if r := recover(); r != nil {
			if g != nil {
				g.Close()
			}
			g, err = nil, fmt.Errorf("ximage: %v", r)
		}
	}()
	setup := xproto.Setup(conn)
	screen := setup.DefaultScreen(conn)
	g.root = screen.Root
	if err := checkFormat(setup, screen); err != nil {
		return g, err
	}
	// Size changes (RandR) arrive as ConfigureNotify on the root window.
	if err := xproto.ChangeWindowAttributesChecked(conn, g.root, xproto.CwEventMask,
		[]uint32{xproto.EventMaskStructureNotify}).Check(); err != nil {
		return g, fmt.Errorf("ximage: watch screen size: %w", err)
	}
	geo, err := xproto.GetGeometry(conn, xproto.Drawable(g.root)).Reply()
	if err != nil {
		return g, fmt.Errorf("ximage: screen size: %w", err)
	}
	g.width, g.height = int(geo.Width), int(geo.Height)
	g.pendingW, g.pendingH = g.width, g.height
	g.damaged = make(chan struct{}, 1)
	if xext.Init(conn, xext.Damage) == nil {
		if _, err := damage.QueryVersion(conn, 1, 1).Reply(); err == nil {
			if id, err := damage.NewDamageId(conn); err == nil {
				// The server reports the whole window at once: that report
				// comes before the first grab, which covers it.
				create := damage.CreateChecked(conn, id, xproto.Drawable(g.root), damage.ReportLevelNonEmpty)
				if create.Check() == nil {
					g.damage, g.hasDamage = id, true
					g.grabSeq.Store(uint32(create.Sequence + 1))
				}
			}
		}
	}
	go g.readEvents(conn)
	if xext.Init(conn, xext.XFixes) == nil {
		if _, err := xfixes.QueryVersion(conn, 4, 0).Reply(); err == nil {
			g.cursor = true
		}
	}
	if xext.Init(conn, xext.MITSHM) == nil {
		// Without shared memory (a remote server) frames come over the
		// socket: slower, but it works.
		if own, err := g.NewSegment(); err == nil {
			g.shm, g.own = true, own
		}
	}
	return g, nil
}

func checkFormat(setup *xproto.SetupInfo, screen *xproto.ScreenInfo) error {
	if setup.ImageByteOrder != xproto.ImageOrderLSBFirst {
		return fmt.Errorf("%w: big-endian images", ErrFormat)
	}
	bpp := 0
	for _, f := range setup.PixmapFormats {
		if f.Depth == screen.RootDepth {
			bpp = int(f.BitsPerPixel)
		}
	}
	if bpp != 32 {
		return fmt.Errorf("%w: depth %d at %d bits per pixel", ErrFormat, screen.RootDepth, bpp)
	}
	for _, d := range screen.AllowedDepths {
		for _, v := range d.Visuals {
			if v.VisualId == screen.RootVisual {
				if v.RedMask != 0xff0000 || v.GreenMask != 0xff00 || v.BlueMask != 0xff {
					return fmt.Errorf("%w: colour masks %#x/%#x/%#x", ErrFormat, v.RedMask, v.GreenMask, v.BlueMask)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("%w: root visual not found", ErrFormat)
}

// NewSegment makes a shared-memory segment of the screen's current size
// and has the server attach it.
func (g *Grabber) NewSegment() (*Segment, error) {
	size := g.width * g.height * 4
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return nil, fmt.Errorf("ximage: shmget: %w", err)
	}
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return nil, fmt.Errorf("ximage: shmat: %w", err)
	}
	seg, err := shm.NewSegId(g.conn)
	if err == nil {
		err = shm.AttachChecked(g.conn, seg, uint32(id), false).Check()
	}
	// Marked for removal now: it goes away when both sides detach, even
	// if this process is killed.
	_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	if err != nil {
		_ = unix.SysvShmDetach(mem)
		return nil, fmt.Errorf("ximage: server cannot attach shared memory: %w", err)
	}
	return &Segment{seg: seg, mem: mem, Width: g.width, Height: g.height}, nil
}

// FreeSegment detaches s on both sides.
func (g *Grabber) FreeSegment(s *Segment) {
	if s == nil || s.mem == nil {
		return
	}
	if g.conn != nil {
		shm.Detach(g.conn, s.seg)
	}
	_ = unix.SysvShmDetach(s.mem)
	s.mem = nil
}

// Size is the size of the frames Grab returns.
func (g *Grabber) Size() (width, height int) { return g.width, g.height }

// SharedMemory reports whether frames come through MIT-SHM (and
// NewSegment works).
func (g *Grabber) SharedMemory() bool { return g.shm }

// Grab captures the whole screen as BGRx rows (4 bytes a pixel, no
// padding). The slice is only valid until the next Grab or Close. A size
// change seen since the last call is applied first, so the frame may be
// of a new size.
func (g *Grabber) Grab() (frame []byte, err error) {
	g.Refresh()
	if g.shm && (g.own == nil || g.own.Width != g.width || g.own.Height != g.height) {
		g.FreeSegment(g.own)
		g.own = nil
		if g.own, err = g.NewSegment(); err != nil {
			// The server cannot attach one more segment: frames come
			// over the socket from now on.
			g.shm = false
		}
	}
	if g.shm {
		if err := g.GrabInto(g.own); err != nil {
			return nil, err
		}
		return g.own.Pixels(), nil
	}
	defer func() {
		if r := recover(); r != nil {
			frame, err = nil, fmt.Errorf("ximage: malformed reply: %v", r)
		}
	}()
	g.rearm()
	cookie := xproto.GetImage(g.conn, xproto.ImageFormatZPixmap, xproto.Drawable(g.root), 0, 0,
		uint16(g.width), uint16(g.height), ^uint32(0))
	g.grabSeq.Store(uint32(cookie.Sequence))
	r, err := cookie.Reply()
	if err != nil {
		return nil, fmt.Errorf("ximage: grab: %w", err)
	}
	if len(r.Data) < g.width*g.height*4 {
		return nil, fmt.Errorf("ximage: grab: %d bytes for %dx%d", len(r.Data), g.width, g.height)
	}
	return r.Data[:g.width*g.height*4], nil
}

// GrabInto has the server write the screen into s, which must be of the
// current size (Refresh, Size).
func (g *Grabber) GrabInto(s *Segment) (err error) {
	if !g.shm || s == nil || s.mem == nil {
		return errors.New("ximage: no shared memory segment")
	}
	if s.Width != g.width || s.Height != g.height {
		return fmt.Errorf("ximage: segment of %dx%d for a %dx%d screen", s.Width, s.Height, g.width, g.height)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ximage: malformed reply: %v", r)
		}
	}()
	g.rearm()
	cookie := shm.GetImage(g.conn, xproto.Drawable(g.root), 0, 0, uint16(s.Width), uint16(s.Height), ^uint32(0),
		xproto.ImageFormatZPixmap, s.seg, 0)
	g.grabSeq.Store(uint32(cookie.Sequence))
	if _, err := cookie.Reply(); err != nil {
		return fmt.Errorf("ximage: grab: %w", err)
	}
	return nil
}

// Refresh applies the size changes the server reported (ConfigureNotify
// on the root window) since the last call.
func (g *Grabber) Refresh() {
	g.mu.Lock()
	g.width, g.height = g.pendingW, g.pendingH
	g.mu.Unlock()
}

// Damaged signals (at most one pending) when the screen changed since
// the last grab: the server reports a change once, and each grab asks
// for the next. Nil without the DAMAGE extension.
func (g *Grabber) Damaged() <-chan struct{} {
	if !g.hasDamage {
		return nil
	}
	return g.damaged
}

// readEvents takes the connection's events as they come: size changes
// and damage. It ends when conn closes (Close does not wait for it: the
// close may wait on a server that is gone or grabbed).
func (g *Grabber) readEvents(conn *xgb.Conn) {
	for {
		ev, err := conn.WaitForEvent()
		if ev == nil && err == nil {
			return // connection closed
		}
		switch e := ev.(type) {
		case xproto.ConfigureNotifyEvent:
			if e.Window == g.root {
				g.mu.Lock()
				g.pendingW, g.pendingH = int(e.Width), int(e.Height)
				g.mu.Unlock()
			}
		case damage.NotifyEvent:
			// An event carries the sequence number of the last request
			// the server had handled: one from before the last grab
			// request is a change that grab saw.
			if int16(e.Sequence-uint16(g.grabSeq.Load())) < 0 {
				continue
			}
			select {
			case g.damaged <- struct{}{}:
			default:
			}
		}
	}
}

// rearm asks for the next damage report: changes from now on are
// reported once more (those the coming grab sees are filtered out by
// readEvents).
func (g *Grabber) rearm() {
	if g.hasDamage {
		damage.Subtract(g.conn, g.damage, 0, 0)
	}
}

// IsProtocolError reports whether err is the server refusing a request
// (the connection is still good), rather than a lost connection.
func IsProtocolError(err error) bool {
	var xe xgb.Error
	return errors.As(err, &xe)
}

// Cursor is the pointer's image and where it is drawn.
type Cursor struct {
	// X, Y is the top-left corner of the image on the screen (the
	// pointer position minus the hotspot).
	X, Y          int
	Width, Height int
	// Pixels are premultiplied ARGB, row by row.
	Pixels []uint32
}

// Cursor reads the current pointer image and position (XFixes).
func (g *Grabber) Cursor() (c Cursor, err error) {
	if !g.cursor {
		return Cursor{}, errors.New("ximage: no XFixes: the cursor cannot be drawn")
	}
	defer func() {
		if r := recover(); r != nil {
			c, err = Cursor{}, fmt.Errorf("ximage: malformed cursor reply: %v", r)
		}
	}()
	r, err := xfixes.GetCursorImage(g.conn).Reply()
	if err != nil {
		return Cursor{}, fmt.Errorf("ximage: cursor: %w", err)
	}
	w, h := int(r.Width), int(r.Height)
	if len(r.CursorImage) < w*h {
		return Cursor{}, fmt.Errorf("ximage: cursor image has %d pixels for %dx%d", len(r.CursorImage), w, h)
	}
	return Cursor{X: int(r.X) - int(r.Xhot), Y: int(r.Y) - int(r.Yhot), Width: w, Height: h, Pixels: r.CursorImage[:w*h]}, nil
}

// Close releases the shared memory and the connection.
func (g *Grabber) Close() {
	if g == nil || g.conn == nil {
		return
	}
	g.FreeSegment(g.own)
	g.conn.Close()
	g.conn = nil
}

// DrawCursor blends c onto a BGRx frame of width x height.
func DrawCursor(frame []byte, width, height int, c Cursor) {
	for cy := 0; cy < c.Height; cy++ {
		y := c.Y + cy
		if y < 0 || y >= height {
			continue
		}
		for cx := 0; cx < c.Width; cx++ {
			x := c.X + cx
			if x < 0 || x >= width {
				continue
			}
			p := c.Pixels[cy*c.Width+cx]
			a := p >> 24
			if a == 0 {
				continue
			}
			i := (y*width + x) * 4
			if i+4 > len(frame) {
				return
			}
			inv := 255 - a
			// Premultiplied source over an opaque destination.
			frame[i+0] = over(p, frame[i+0], inv)
			frame[i+1] = over(p>>8, frame[i+1], inv)
			frame[i+2] = over(p>>16, frame[i+2], inv)
		}
	}
}

func over(src uint32, dst byte, inv uint32) byte {
	v := src&0xff + (uint32(dst)*inv+127)/255
	if v > 255 { // a cursor that is not really premultiplied
		v = 255
	}
	return byte(v)
}
