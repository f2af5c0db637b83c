package desktop

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math/bits"

	"github.com/jezek/xgb/xproto"
)

// screenshotStrip bounds the bytes one GetImage reply carries, so a large
// screen is read in a few strips instead of one huge reply.
const screenshotStrip = 4 << 20

// Screenshot reads the whole screen from the X server.
func (d *Desktop) Screenshot() (*image.RGBA, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	geom, err := xproto.GetGeometry(d.conn, xproto.Drawable(d.root)).Reply()
	if err != nil {
		return nil, fmt.Errorf("desktop: screenshot: %w", err)
	}
	w, h := int(geom.Width), int(geom.Height)
	px, err := d.pixelFormat(geom.Depth)
	if err != nil {
		return nil, fmt.Errorf("desktop: screenshot: %w", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rows := max(1, screenshotStrip/(w*4))
	for y := 0; y < h; y += rows {
		n := min(rows, h-y)
		r, err := xproto.GetImage(d.conn, xproto.ImageFormatZPixmap, xproto.Drawable(d.root),
			0, int16(y), uint16(w), uint16(n), 0xffffffff).Reply()
		if err != nil {
			return nil, fmt.Errorf("desktop: screenshot: %w", err)
		}
		if err := px.convert(img, y, n, r.Data); err != nil {
			return nil, fmt.Errorf("desktop: screenshot: %w", err)
		}
	}
	return img, nil
}

// ScreenshotJPEG encodes Screenshot as JPEG with quality 1-100 (values
// outside are clamped).
func (d *Desktop) ScreenshotJPEG(quality int) ([]byte, error) {
	img, err := d.Screenshot()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: min(max(quality, 1), 100)}); err != nil {
		return nil, fmt.Errorf("desktop: encode screenshot: %w", err)
	}
	return buf.Bytes(), nil
}

// pixelFormat describes ZPixmap data of the root window: 32 bits per pixel
// (what every depth-24 TrueColor server uses) with the root visual's masks.
type pixelFormat struct {
	msbFirst               bool
	rShift, gShift, bShift int
}

func (d *Desktop) pixelFormat(depth byte) (pixelFormat, error) {
	setup := xproto.Setup(d.conn)
	screen := setup.DefaultScreen(d.conn)
	// 32-bit pixels fill any scanline pad, so rows are 4*width bytes.
	bpp := 0
	for _, f := range setup.PixmapFormats {
		if f.Depth == depth {
			bpp = int(f.BitsPerPixel)
		}
	}
	if bpp != 32 {
		return pixelFormat{}, fmt.Errorf("unsupported pixel format: depth %d at %d bits per pixel", depth, bpp)
	}
	var visual *xproto.VisualInfo
	for _, dp := range screen.AllowedDepths {
		for i := range dp.Visuals {
			if dp.Visuals[i].VisualId == screen.RootVisual {
				visual = &dp.Visuals[i]
			}
		}
	}
	if visual == nil || visual.Class != xproto.VisualClassTrueColor {
		return pixelFormat{}, errors.New("the root visual is not TrueColor")
	}
	shift := func(mask uint32) (int, error) {
		if mask == 0 || bits.OnesCount32(mask) != 8 {
			return 0, fmt.Errorf("unsupported colour mask %#x", mask)
		}
		return bits.TrailingZeros32(mask), nil
	}
	var pf pixelFormat
	var err error
	if pf.rShift, err = shift(visual.RedMask); err != nil {
		return pixelFormat{}, err
	}
	if pf.gShift, err = shift(visual.GreenMask); err != nil {
		return pixelFormat{}, err
	}
	if pf.bShift, err = shift(visual.BlueMask); err != nil {
		return pixelFormat{}, err
	}
	pf.msbFirst = setup.ImageByteOrder == xproto.ImageOrderMSBFirst
	return pf, nil
}

// convert writes n rows of ZPixmap data into img starting at row y.
func (pf pixelFormat) convert(img *image.RGBA, y, n int, data []byte) error {
	w := img.Rect.Dx()
	if len(data) < w*n*4 {
		return fmt.Errorf("short image reply: %d bytes for %dx%d", len(data), w, n)
	}
	for row := 0; row < n; row++ {
		src := data[row*w*4 : (row+1)*w*4]
		dst := img.Pix[(y+row)*img.Stride:]
		for x := 0; x < w; x++ {
			s := src[4*x : 4*x+4]
			var p uint32
			if pf.msbFirst {
				p = uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
			} else {
				p = uint32(s[3])<<24 | uint32(s[2])<<16 | uint32(s[1])<<8 | uint32(s[0])
			}
			dst[4*x+0] = byte(p >> pf.rShift)
			dst[4*x+1] = byte(p >> pf.gShift)
			dst[4*x+2] = byte(p >> pf.bShift)
			dst[4*x+3] = 0xff
		}
	}
	return nil
}
