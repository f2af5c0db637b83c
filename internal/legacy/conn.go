package legacy

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/neko-webrtc/neko/internal/session"
)

const (
	// sendQueue bounds what a slow client may owe us; beyond it the client
	// is dropped rather than slowing every broadcast down.
	sendQueue    = 1024
	writeTimeout = 10 * time.Second
	pingInterval = 10 * time.Second
	pingTimeout  = 20 * time.Second
)

// conn is a v2 client's WebSocket, attached to its v3 session as the
// session's connection: Send receives raw v3 events, translates them and
// queues the v2 messages for the single writer goroutine. Translation runs
// in the caller (under mu), so messages keep the order of the v3 events
// and the bridge's record of who acted is still current.
type conn struct {
	ws  *websocket.Conn
	out chan []byte

	mu  sync.Mutex
	log *slog.Logger // gains the session id after login
	tr  *translator
	// initial buffers the messages of the connect sequence, which are sent
	// in the v2 order (see flushInitial); nil outside it.
	initial [][]byte

	closeOnce sync.Once
	done      chan struct{}
	bye       *msgSystem // set once, before done is closed
}

var _ session.Conn = (*conn)(nil)

func newConn(ws *websocket.Conn, log *slog.Logger) *conn {
	return &conn{ws: ws, log: log, out: make(chan []byte, sendQueue), done: make(chan struct{})}
}

// Send translates one v3 event and queues its v2 messages. It never blocks.
func (c *conn) Send(raw []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tr == nil {
		return
	}
	msgs, err := c.tr.translate(raw)
	if err != nil {
		c.log.Debug("legacy: cannot translate event", "err", err)
		return
	}
	for _, m := range msgs {
		c.sendLocked(m)
	}
}

// send queues one v2 message written by the bridge itself.
func (c *conn) send(m any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendLocked(m)
}

func (c *conn) sendLocked(m any) {
	raw, err := json.Marshal(m)
	if err != nil {
		c.log.Error("legacy: marshal message", "err", err)
		return
	}
	if c.initial != nil {
		c.initial = append(c.initial, raw)
		return
	}
	c.queueLocked(raw)
}

func (c *conn) queueLocked(raw []byte) {
	select {
	case <-c.done:
	case c.out <- raw:
	default:
		c.log.Warn("legacy websocket send queue full, disconnecting slow client")
		c.Close("")
		_ = c.ws.CloseNow()
	}
}

// beginInitial starts buffering the connect sequence.
func (c *conn) beginInitial() {
	c.mu.Lock()
	c.initial = [][]byte{}
	c.mu.Unlock()
}

// initialRank is the order of the v2 connect sequence as the reference
// sends it; anything else follows in arrival order.
var initialRank = map[Event]int{
	EventMemberList:           0,
	EventScreenResolution:     1,
	EventControlLocked:        2,
	EventSystemInit:           3,
	EventScreenConfigurations: 4,
	EventBroadcastStatus:      5,
	EventOpenInAppInit:        6,
	EventFileTransferList:     7,
}

// flushInitial sends the buffered connect sequence in the v2 order (v3
// plugins announce themselves in their own order) and ends buffering.
func (c *conn) flushInitial() {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs := c.initial
	c.initial = nil
	rank := func(raw []byte) int {
		if r, ok := initialRank[eventOf(raw)]; ok {
			return r
		}
		return len(initialRank)
	}
	slices.SortStableFunc(msgs, func(a, b []byte) int { return rank(a) - rank(b) })
	for _, raw := range msgs {
		c.queueLocked(raw)
	}
}

// Close ends the connection; the writer says system/disconnect with the
// reason first when there is one.
func (c *conn) Close(reason string) {
	if reason == "" {
		c.closeWith(nil)
		return
	}
	c.closeWith(&msgSystem{Event: EventSystemDisconnect, Message: reason})
}

func (c *conn) closeWith(bye *msgSystem) {
	c.closeOnce.Do(func() {
		c.bye = bye
		close(c.done)
	})
}

func (c *conn) logger() *slog.Logger {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log
}

// writeLoop owns every write until the connection closes; it pings so that
// dead peers and idle proxies are noticed (v2 has no server heartbeat).
func (c *conn) writeLoop(ctx context.Context) {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	write := func(raw []byte) {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		if err := c.ws.Write(wctx, websocket.MessageText, raw); err != nil {
			c.logger().Debug("legacy websocket write failed", "err", err)
			c.Close("")
		}
	}
	for {
		select {
		case <-c.done:
			// Flush what was queued before the goodbye (a refusal explained
			// by system/error, say), then close.
			for drained := false; !drained; {
				select {
				case raw := <-c.out:
					write(raw)
				default:
					drained = true
				}
			}
			reason := ""
			if c.bye != nil {
				reason = c.bye.Message
				if raw, err := json.Marshal(c.bye); err == nil {
					wctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_ = c.ws.Write(wctx, websocket.MessageText, raw)
					cancel()
				}
			}
			if len(reason) > 120 { // close reasons are limited to 123 bytes
				reason = reason[:120]
			}
			_ = c.ws.Close(websocket.StatusNormalClosure, reason)
			return
		case <-ctx.Done():
			c.Close("")
		case raw := <-c.out:
			write(raw)
		case <-ping.C:
			go func() {
				pctx, cancel := context.WithTimeout(ctx, pingTimeout)
				defer cancel()
				if err := c.ws.Ping(pctx); err != nil {
					c.logger().Debug("legacy websocket ping failed", "err", err)
					c.Close("")
				}
			}()
		}
	}
}

// eventOf peeks at the event name of a marshalled v2 message.
func eventOf(raw []byte) Event {
	var m struct {
		Event Event `json:"event"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Event
}
