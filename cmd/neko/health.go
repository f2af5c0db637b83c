package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/neko-webrtc/neko/internal/config"
)

// newHealth is the container health check: it asks the server that the
// same NEKO_* variables and configuration file describe for its /health,
// so a changed server.bind, path prefix or TLS needs no change to the
// check. (Flags given to serve are not seen; pass them to health too.)
func newHealth() *cobra.Command {
	v := viper.New()
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 when the configured server answers on /health (a container health check)",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(v)
			if err != nil {
				return err
			}
			u, err := healthURL(cfg.Server)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return probeHealth(ctx, u)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	if err := config.RegisterFlags(cmd.Flags(), v); err != nil {
		panic(err) // a programming error in the option table
	}
	return cmd
}

// healthURL is where the server of cfg answers /health from this host: a
// wildcard bind address is reached on loopback.
func healthURL(cfg config.Server) (string, error) {
	host, port, err := net.SplitHostPort(cfg.Bind)
	if err != nil {
		return "", fmt.Errorf("server.bind %q: %w", cfg.Bind, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.Cert != "" {
		scheme = "https"
	}
	if _, err := strconv.Atoi(port); err != nil {
		// A service name, as net.Listen accepts ("http").
		n, err := net.LookupPort("tcp", port)
		if err != nil {
			return "", fmt.Errorf("server.bind %q: %w", cfg.Bind, err)
		}
		port = strconv.Itoa(n)
	}
	prefix := cfg.PathPrefix
	if prefix == "" {
		prefix = "/"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: prefix + "health"}
	return u.String(), nil
}

func probeHealth(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	// The certificate names the public host, not the address asked here;
	// the check is about the server answering, not about who it is.
	client := &http.Client{Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s", u, resp.Status)
	}
	return nil
}
