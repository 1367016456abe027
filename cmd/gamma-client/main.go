// Command gamma-client is the sampling client (image gammaproof/client):
// "serve" answers the suite's sampling API, "get" sends requests once like
// curl and prints the counts as JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/client"
)

const usage = `usage:
  gamma-client serve [--port 8081]          serve POST /sample and GET /healthz
  gamma-client get URL [-n N] [-H 'k: v']   send requests, print counts as JSON (-h for flags)`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gamma-client:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) < 2 {
		return errors.New(usage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s := client.New()
	defer s.Close()
	switch os.Args[1] {
	case "serve":
		return serve(ctx, s, os.Args[2:])
	case "get":
		req, err := client.ParseGet(os.Args[2:], os.Stderr)
		if err != nil {
			return err
		}
		res, err := s.Sample(ctx, req)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", os.Args[1], usage)
}

func serve(ctx context.Context, s sample.Sampler, args []string) error {
	port, err := sample.PortFromEnv(sample.DefaultClientPort)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.IntVar(&port, "port", port, "port of the sampling API ($PORT)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse serve flags: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", port, err)
	}
	slog.Info("serving sampling api", "addr", ln.Addr().String())
	return client.Serve(ctx, ln, client.Handler(s, nil))
}
