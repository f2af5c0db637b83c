package webrtc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// dtlsCerts hands every peer the same DTLS certificate, made again once a
// day. Pion would otherwise make a key and a self-signed certificate for
// each peer, a cost that adds up when many viewers join at once; the
// certificate only proves to each viewer that the DTLS peer is the one
// whose fingerprint the signalling gave, which a shared one does as well.
type dtlsCerts struct {
	mu   sync.Mutex
	cert *webrtc.Certificate
	made time.Time
	now  func() time.Time
}

// certLifetime is how long a certificate is handed out. Pion's are valid
// for about a month, so a peer that started with one stays well inside it.
const certLifetime = 24 * time.Hour

func (c *dtlsCerts) get() (webrtc.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	if c.cert == nil || now.Sub(c.made) >= certLifetime || now.Before(c.made) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("webrtc: dtls key: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("webrtc: dtls certificate: %w", err)
		}
		c.cert, c.made = cert, now
	}
	return *c.cert, nil
}
