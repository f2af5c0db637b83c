// Package xext makes X extensions usable on xgb connections. Every X
// connection of the process sets its extensions up here.
//
// xgb's own Init functions (xtest.Init, shm.Init, …) write process-wide
// tables of event and error decoders that every connection's reader
// goroutine reads without a lock: calling one while another connection
// receives an event is a concurrent map access, which ends the process.
// So the tables are filled once, by the process's first connection
// (before any other exists), and later connections only look up the
// extension's opcode, which is per connection.
package xext

import (
	"errors"
	"fmt"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// Names of the extensions the process uses, as the server calls them.
const (
	XTest  = "XTEST"
	RandR  = "RANDR"
	XFixes = "XFIXES"
	MITSHM = "MIT-SHM"
	Damage = "DAMAGE"
)

// registrations are the xgb Init functions that fill the global tables.
var registrations = []func(*xgb.Conn) error{xtest.Init, randr.Init, xfixes.Init, shm.Init, damage.Init}

var (
	mu         sync.Mutex
	registered bool
)

// ErrMissing is returned for an extension the server does not have.
var ErrMissing = errors.New("xext: extension not present")

// Init makes extension name usable on c.
func Init(c *xgb.Conn, name string) error {
	mu.Lock()
	if !registered {
		registered = true
		for _, register := range registrations {
			// One the server lacks is simply not registered.
			_ = register(c)
		}
	}
	mu.Unlock()
	reply, err := xproto.QueryExtension(c, uint16(len(name)), name).Reply()
	if err != nil {
		return fmt.Errorf("xext: query %s: %w", name, err)
	}
	if !reply.Present {
		return fmt.Errorf("%w: %s", ErrMissing, name)
	}
	c.ExtLock.Lock()
	c.Extensions[name] = reply.MajorOpcode
	c.ExtLock.Unlock()
	return nil
}
