package webrtc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// PublicIPTimeout bounds how long start-up waits for
// webrtc.ip_retrieval_url; a host without Internet access usually fails
// at once (no DNS), a filtered one would otherwise hang.
const PublicIPTimeout = 5 * time.Second

// FetchPublicIP asks url (webrtc.ip_retrieval_url) for this host's public
// address, within PublicIPTimeout.
func FetchPublicIP(ctx context.Context, url string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, PublicIPTimeout)
	defer cancel()
	return fetchPublicIP(ctx, http.DefaultClient, url)
}

// fetchPublicIP asks url for this host's public address, answered the way
// checkip services do: the address alone, as plain text.
func fetchPublicIP(ctx context.Context, client *http.Client, url string) (netip.Addr, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("webrtc: webrtc.ip_retrieval_url: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("webrtc: webrtc.ip_retrieval_url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return netip.Addr{}, fmt.Errorf("webrtc: webrtc.ip_retrieval_url %s: %s", url, resp.Status)
	}
	// An address is at most 45 characters; more is not an answer of this
	// kind (an HTML error page, a captive portal).
	body, err := io.ReadAll(io.LimitReader(resp.Body, 128))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("webrtc: webrtc.ip_retrieval_url %s: %w", url, err)
	}
	text := strings.TrimSpace(string(body))
	addr, err := netip.ParseAddr(text)
	if err != nil || addr.Zone() != "" {
		if len(text) > 40 {
			text = text[:40] + "…"
		}
		return netip.Addr{}, fmt.Errorf("webrtc: webrtc.ip_retrieval_url %s answered %q, not an IP address", url, text)
	}
	addr = addr.Unmap()
	if addr.IsUnspecified() || addr.IsMulticast() || addr.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("webrtc: webrtc.ip_retrieval_url %s answered %s, which no viewer can reach", url, addr)
	}
	return addr, nil
}

// publicIPRule makes every host candidate also offered at the public
// address. The reference replaces the local addresses with the fetched
// one instead; appending keeps viewers on this host or its LAN working
// when the router cannot loop back to its own public address, and costs
// a remote viewer nothing.
func publicIPRule(se *webrtc.SettingEngine, addr netip.Addr) error {
	if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
		External:        []string{addr.String()},
		AsCandidateType: webrtc.ICECandidateTypeHost,
		Mode:            webrtc.ICEAddressRewriteAppend,
	}); err != nil {
		return fmt.Errorf("webrtc: public IP %s: %w", addr, err)
	}
	return nil
}
