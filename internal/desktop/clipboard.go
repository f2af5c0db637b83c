package desktop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jezek/xgb/xproto"

	"github.com/neko-webrtc/neko/pkg/types"
)

// The clipboard goes through xclip, the tool the reference uses: it
// implements both sides of the selection protocol, INCR transfers of large
// contents included. Reads run one xclip -out per target; a write starts an
// xclip -in in the foreground that owns the CLIPBOARD selection until
// another client takes it over (it then exits) or the Desktop closes.

// MaxClipboardSize caps what is read from or written to the clipboard.
const MaxClipboardSize = 10 << 20

// clipboardTimeout bounds one xclip run (an owner that never answers).
const clipboardTimeout = 5 * time.Second

// Clipboard errors callers may want to tell apart.
var (
	ErrClipboardTooLarge = fmt.Errorf("clipboard content exceeds %d MiB", MaxClipboardSize>>20)
	ErrClipboardNoImage  = errors.New("clipboard holds no PNG image")
)

// Targets (content types) offered and read.
const (
	targetUTF8   = "UTF8_STRING"
	targetString = "STRING"
	targetHTML   = "text/html"
	targetPNG    = "image/png"
)

// Clipboard reads the text and HTML the CLIPBOARD owner offers; either is
// empty when not offered, both when the clipboard has no owner.
func (d *Desktop) Clipboard(ctx context.Context) (types.ClipboardText, error) {
	targets, err := d.clipboardTargets(ctx)
	if err != nil || len(targets) == 0 {
		return types.ClipboardText{}, err
	}
	var out types.ClipboardText
	textTarget := ""
	switch {
	case slices.Contains(targets, targetUTF8):
		textTarget = targetUTF8
	case slices.Contains(targets, targetString):
		textTarget = targetString
	}
	if textTarget != "" {
		b, err := d.clipboardRead(ctx, textTarget)
		if err != nil {
			return types.ClipboardText{}, err
		}
		out.Text = string(b)
	}
	if slices.Contains(targets, targetHTML) {
		b, err := d.clipboardRead(ctx, targetHTML)
		if err != nil {
			return types.ClipboardText{}, err
		}
		out.HTML = string(b)
	}
	return out, nil
}

// ClipboardImage reads the clipboard as PNG; ErrClipboardNoImage when the
// owner offers none.
func (d *Desktop) ClipboardImage(ctx context.Context) ([]byte, error) {
	targets, err := d.clipboardTargets(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(targets, targetPNG) {
		return nil, ErrClipboardNoImage
	}
	return d.clipboardRead(ctx, targetPNG)
}

// SetClipboard makes us the CLIPBOARD owner, offering HTML (text/html)
// when c.HTML is set, else c.Text (UTF8_STRING). One owner process serves
// one target, as in the reference. It returns once the selection is ours,
// so a paste right after gets the new contents.
func (d *Desktop) SetClipboard(ctx context.Context, c types.ClipboardText) error {
	target, data := targetUTF8, c.Text
	if c.HTML != "" {
		target, data = targetHTML, c.HTML
	}
	if len(data) > MaxClipboardSize {
		return ErrClipboardTooLarge
	}
	if err := d.usable(); err != nil {
		return err
	}
	before, err := d.clipboardOwner()
	if err != nil {
		return err
	}
	p, err := d.clip.start(d.display, target, data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, clipboardTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		owner, err := d.clipboardOwner()
		if err != nil {
			p.kill()
			return err
		}
		if owner != 0 && owner != before {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("desktop: set clipboard: xclip exited: %s", p.stderr())
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("desktop: set clipboard: xclip did not take the selection: %w", ctx.Err())
		case <-d.life.Done():
			return ErrClosed
		case <-tick.C:
		}
	}
}

func (d *Desktop) clipboardOwner() (xproto.Window, error) {
	r, err := xproto.GetSelectionOwner(d.conn, d.atoms.clipboard).Reply()
	if err != nil {
		return 0, fmt.Errorf("desktop: clipboard owner: %w", err)
	}
	return r.Owner, nil
}

// clipboardTargets lists the targets the owner offers (none without one).
func (d *Desktop) clipboardTargets(ctx context.Context) ([]string, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	owner, err := d.clipboardOwner()
	if err != nil || owner == 0 {
		return nil, err
	}
	b, err := d.clipboardRead(ctx, "TARGETS")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// clipboardRead runs xclip -out for one target, capped at
// MaxClipboardSize and clipboardTimeout.
func (d *Desktop) clipboardRead(ctx context.Context, target string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, clipboardTimeout)
	defer cancel()
	stop := context.AfterFunc(d.life, cancel)
	defer stop()

	cmd := exec.CommandContext(ctx, "xclip", "-display", d.display, "-selection", "clipboard", "-out", "-target", target)
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("desktop: run xclip: %w", err)
	}
	data, readErr := io.ReadAll(io.LimitReader(out, MaxClipboardSize+1))
	if len(data) > MaxClipboardSize {
		cancel()
		_ = cmd.Wait()
		return nil, ErrClipboardTooLarge
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("desktop: read clipboard %s: the owner did not answer: %w", target, ctx.Err())
		}
		return nil, fmt.Errorf("desktop: read clipboard %s: %v: %s", target, err, stderr.String())
	}
	if readErr != nil {
		return nil, fmt.Errorf("desktop: read clipboard %s: %w", target, readErr)
	}
	return data, nil
}

// clipboardOwner keeps the xclip processes that serve our clipboard
// contents, so they are reaped when they exit and killed on Close.
type clipboardOwner struct {
	mu    sync.Mutex
	procs map[*clipProc]struct{}
}

type clipProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  limitedBuffer
}

func (p *clipProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *clipProc) stderr() string {
	if s := strings.TrimSpace(p.err.String()); s != "" {
		return s
	}
	return "no error output"
}

func (c *clipboardOwner) start(display, target, data string) (*clipProc, error) {
	p := &clipProc{done: make(chan struct{})}
	// -quiet keeps xclip in the foreground (the default forks a daemon we
	// could neither reap nor stop).
	p.cmd = exec.Command("xclip", "-display", display, "-selection", "clipboard", "-in", "-target", target, "-quiet")
	p.cmd.Stdin = strings.NewReader(data)
	p.cmd.Stderr = &p.err
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("desktop: run xclip: %w", err)
	}
	c.mu.Lock()
	if c.procs == nil {
		c.procs = map[*clipProc]struct{}{}
	}
	c.procs[p] = struct{}{}
	c.mu.Unlock()
	go func() {
		_ = p.cmd.Wait()
		c.mu.Lock()
		delete(c.procs, p)
		c.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// stop kills every owner process and waits for them.
func (c *clipboardOwner) stop() {
	c.mu.Lock()
	procs := make([]*clipProc, 0, len(c.procs))
	for p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
}

// limitedBuffer keeps the first 4 KiB written to it (a helper's error
// output) and is safe for the concurrent use exec makes of it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 4096 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
