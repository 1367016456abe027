// Command gamma-echo is the echo backend (image gammaproof/echo): it answers
// HTTP/1.1, h2c and gRPC on one port with who it is and what it received.
// Besides suite/sample/echo's behaviours it has the modes of modes.go: a
// reset after reading the request (reset-first) and every value of a
// request header joined (join-header).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/echo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gamma-echo:", err)
		os.Exit(1)
	}
}

func run() error {
	host, err := os.Hostname()
	if err != nil {
		host = "" // only a fallback for the pod name; $POD_NAME or --pod set it
	}
	port, err := sample.PortFromEnv(8080)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("gamma-echo", flag.ContinueOnError)
	fs.IntVar(&port, "port", port, "port for HTTP/1.1, h2c and gRPC ($PORT)")
	var cfg echo.Config
	fs.StringVar(&cfg.Version, "version", os.Getenv("VERSION"), "version reported in every answer ($VERSION)")
	fs.StringVar(&cfg.Pod, "pod", envOr("POD_NAME", host), "pod name reported ($POD_NAME, else the host name)")
	fs.StringVar(&cfg.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace reported ($POD_NAMESPACE)")
	fs.StringVar(&cfg.Service, "service", os.Getenv("SERVICE_NAME"), "service name reported ($SERVICE_NAME)")
	fs.BoolVar(&cfg.Plain, "plain", os.Getenv("ECHO_PLAIN") == "true", `answer "Response from <version>" in plain text ($ECHO_PLAIN=true)`)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d: give a port from 1 to 65535", port)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", port, err)
	}
	slog.Info("serving echo", "addr", ln.Addr().String(), "version", cfg.Version, "pod", cfg.Pod, "plain", cfg.Plain)
	return serve(ctx, echo.New(cfg), ln)
}

// serve is echo.Server.Serve with the handler wrapped in gamma-echo's
// modes (modes.go).
func serve(ctx context.Context, s *echo.Server, ln net.Listener) error {
	srv := &http.Server{
		Handler:           withModes(s.Handler()),
		ReadHeaderTimeout: 30 * time.Second,
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return sample.ServeUntilDone(ctx, srv, ln, echo.DefaultShutdownGrace, "echo server", func() { s.SetReady(false) }, func() {
		slog.Info("cut requests still running after the shutdown grace period", "grace", echo.DefaultShutdownGrace)
	})
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
