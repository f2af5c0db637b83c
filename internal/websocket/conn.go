package websocket

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/neko-webrtc/neko/internal/session"
	"github.com/neko-webrtc/neko/pkg/types"
)

const (
	// sendQueue bounds what a slow client may owe us. Beyond it the client
	// is disconnected rather than slowing every broadcast down.
	sendQueue    = 1024
	writeTimeout = 10 * time.Second
	pingInterval = 10 * time.Second
	pingTimeout  = 20 * time.Second
)

// conn is one WebSocket. A single writer goroutine owns all writes, so
// Send never blocks the caller (a broadcast, a capture callback...).
type conn struct {
	ws      *websocket.Conn
	log     *slog.Logger
	metrics *Metrics
	out     chan []byte

	closeOnce sync.Once
	done      chan struct{}
	reason    string // set once, before done is closed
	// cut: closed for falling behind, on purpose: its session gets no
	// grace for a reconnect (DisconnectGrace).
	cut atomic.Bool

	// Until prime, messages wait in early so that system/init is the
	// first message on the wire.
	primeMu sync.Mutex
	primed  bool
	early   [][]byte
}

var _ session.Conn = (*conn)(nil)

func newConn(ws *websocket.Conn, log *slog.Logger, m *Metrics) *conn {
	return &conn{ws: ws, log: log, metrics: m, out: make(chan []byte, sendQueue), done: make(chan struct{})}
}

func (c *conn) Send(raw []byte) {
	c.primeMu.Lock()
	if !c.primed {
		if len(c.early) < sendQueue {
			c.early = append(c.early, raw)
		}
		c.primeMu.Unlock()
		return
	}
	c.primeMu.Unlock()
	c.enqueue(raw)
}

// prime queues first, then whatever arrived before, and opens the
// connection to normal sends.
func (c *conn) prime(first [][]byte) {
	c.primeMu.Lock()
	defer c.primeMu.Unlock()
	for _, raw := range first {
		c.enqueue(raw)
	}
	for _, raw := range c.early {
		c.enqueue(raw)
	}
	c.early, c.primed = nil, true
}

func (c *conn) enqueue(raw []byte) {
	select {
	case <-c.done:
	case c.out <- raw:
	default:
		// The writer is stuck behind a client that does not read; no
		// goodbye could get through, so drop the socket at once.
		c.log.Warn("websocket send queue full, disconnecting slow client")
		c.metrics.slowClient()
		c.cut.Store(true)
		c.Close("")
		_ = c.ws.CloseNow()
	}
}

// Gone reports whether the connection has ended: a session may then be
// taken over by a new one, merciful reconnect or not.
func (c *conn) Gone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Close ends the connection; the writer sends system/disconnect with the
// reason first when there is one.
func (c *conn) Close(reason string) {
	c.closeOnce.Do(func() {
		c.reason = reason
		close(c.done)
	})
}

// writeLoop runs until the connection closes; it also pings the client so
// dead peers and idle proxies are noticed.
func (c *conn) writeLoop(ctx context.Context, heartbeat time.Duration) {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	hb := time.NewTicker(heartbeat)
	defer hb.Stop()
	heartbeatMsg, _ := session.Marshal(types.EventSystemHeartbeat, nil)

	write := func(raw []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		if err := c.ws.Write(wctx, websocket.MessageText, raw); err != nil {
			c.log.Debug("websocket write failed", "err", err)
			c.Close("")
			return false
		}
		c.metrics.sent()
		return true
	}
	for {
		select {
		case <-c.done:
			if c.reason != "" {
				if raw, err := session.Marshal(types.EventSystemDisconnect, types.SystemDisconnect{Message: c.reason}); err == nil {
					// ctx may be cancelled already (shutdown): say goodbye anyway.
					wctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_ = c.ws.Write(wctx, websocket.MessageText, raw)
					cancel()
				}
			}
			reason := c.reason
			if len(reason) > 120 { // close reasons are limited to 123 bytes
				reason = reason[:120]
			}
			_ = c.ws.Close(websocket.StatusNormalClosure, reason)
			return
		case <-ctx.Done():
			c.Close("")
		case raw := <-c.out:
			if !write(raw) {
				continue
			}
		case <-hb.C:
			write(heartbeatMsg)
		case <-ping.C:
			go func() {
				pctx, cancel := context.WithTimeout(ctx, pingTimeout)
				defer cancel()
				if err := c.ws.Ping(pctx); err != nil {
					c.log.Debug("websocket ping failed", "err", err)
					c.Close("")
				}
			}()
		}
	}
}
