package webrtc

import (
	"testing"
	"time"
)

func fingerprint(t *testing.T, c *dtlsCerts) string {
	t.Helper()
	cert, err := c.get()
	if err != nil {
		t.Fatal(err)
	}
	fps, err := cert.GetFingerprints()
	if err != nil || len(fps) == 0 {
		t.Fatalf("fingerprints: %v, %v", fps, err)
	}
	if !cert.Expires().After(time.Now().Add(7 * 24 * time.Hour)) {
		t.Fatalf("certificate expires %v: a peer could outlive it", cert.Expires())
	}
	return fps[0].Value
}

// TestDTLSCertsShared: peers share one certificate for a day, then get a
// new one; a clock set back makes a new one too (the old one may not be
// valid yet by the new clock).
func TestDTLSCertsShared(t *testing.T) {
	now := time.Now()
	c := &dtlsCerts{now: func() time.Time { return now }}
	first := fingerprint(t, c)
	now = now.Add(certLifetime - time.Minute)
	if got := fingerprint(t, c); got != first {
		t.Fatal("a new certificate within its day")
	}
	now = now.Add(time.Minute)
	second := fingerprint(t, c)
	if second == first {
		t.Fatal("the same certificate after a day")
	}
	now = now.Add(-time.Hour)
	if got := fingerprint(t, c); got == second {
		t.Fatal("the same certificate after the clock went back")
	}
}
