// Command neko is the virtual browser server: `neko serve` runs it,
// `neko version` prints the build.
package main

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/jezek/xgb"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/neko-webrtc/neko/internal/app"
	"github.com/neko-webrtc/neko/internal/config"
	"github.com/neko-webrtc/neko/internal/gcfloor"
	"github.com/neko-webrtc/neko/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// xgb prints connection chatter to stdout through a package logger;
	// our own logs say what matters.
	xgb.Logger = stdlog.New(io.Discard, "", 0)
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "neko:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "neko",
		Short:         "A shared virtual browser streamed over WebRTC",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(), newVersion(), newConfig(), newPassword(), newHealth())
	return root
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "neko %s\n", buildVersion())
		},
	}
}

func buildVersion() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	return v
}

// gcHeapFloor is the smallest heap goal of the server's collector (see
// internal/gcfloor); GOGC in the environment turns it off.
const gcHeapFloor = 16 << 20

func newServe() *cobra.Command {
	v := viper.New()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (and, without a display, its own desktop and browser)",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(v)
			if err != nil {
				return err
			}
			log, closeLog, err := newLogger(cfg.Log, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeLog()
			slog.SetDefault(log)
			defer gcfloor.Start(gcHeapFloor).Stop()

			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return app.Run(ctx, app.Options{
				Config:  cfg,
				Client:  web.Dist(),
				Version: version,
				Logger:  log,
				Ready: func(info app.Info) {
					printBanner(cmd.OutOrStdout(), info.URL, cfg)
				},
			})
		},
	}
	if err := config.RegisterFlags(cmd.Flags(), v); err != nil {
		panic(err) // a programming error in the option table
	}
	return cmd
}

// loadConfig reads the configuration file (--config, else the default
// places) into v, over which flags and NEKO_* variables already sit, and
// checks the result.
func loadConfig(v *viper.Viper) (*config.Config, error) {
	if err := config.ReadFile(v, config.DefaultFiles()); err != nil {
		return nil, err
	}
	return config.Load(v)
}

func printBanner(w io.Writer, url string, cfg *config.Config) {
	fmt.Fprintf(w, "\n  neko is running: open %s\n", url)
	switch cfg.Member.Provider {
	case "multiuser":
		fmt.Fprintf(w, "  log in with any name; password %q for users, %q for admins\n",
			cfg.Member.Multiuser.UserPassword, cfg.Member.Multiuser.AdminPassword)
	case "noauth":
		fmt.Fprintf(w, "  anyone can log in with any name and password (member.provider=noauth)\n")
	default:
		fmt.Fprintf(w, "  log in with the members of the %s provider\n", cfg.Member.Provider)
	}
	fmt.Fprintf(w, "  stop with Ctrl+C\n\n")
}

func newLogger(c config.Log, stderr io.Writer) (*slog.Logger, func(), error) {
	var level slog.Level
	switch c.Level {
	case "debug", "trace":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	case "disabled":
		level = slog.LevelError + 100
	default:
		level = slog.LevelInfo
	}
	out := stderr
	closeFn := func() {}
	if c.Dir != "" {
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("log.dir: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(c.Dir, "neko.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log.dir: %w", err)
		}
		out = io.MultiWriter(stderr, f)
		closeFn = func() { _ = f.Close() }
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if c.JSON {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(h), closeFn, nil
}
