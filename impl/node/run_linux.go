package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gammaproof/gammaproof/impl/proxy"
)

// Config configures [Run]: the in-process proxy and the agent.
type Config struct {
	// ADSAddress is the host:port of the controller's xDS server.
	ADSAddress string
	// NodeID identifies the proxy to the xDS server. Optional; default
	// Agent.NodeName.
	NodeID string
	// ListenHost is where the proxy's listeners bind. Optional; default
	// "0.0.0.0".
	ListenHost string
	// Registerer receives the proxy's metrics, and the agent's unless
	// Agent.Registerer is set. Optional.
	Registerer prometheus.Registerer
	// Agent configures the steering; its Logger is used for the proxy too.
	Agent Options
}

// Run runs the node proxy and the agent that steers pod connections into it
// until ctx is done or one of them fails; the programs are detached before
// it returns, unless they are pinned (Agent.PinDir).
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	agent, err := New(cfg.Agent)
	if err != nil {
		return err
	}
	p, err := newProxy(cfg, agent)
	if err != nil {
		return err
	}
	return runBoth(ctx, p, agent)
}

// withDefaults fills the optional fields of cfg.
func (cfg Config) withDefaults() Config {
	if cfg.Agent.Registerer == nil {
		cfg.Agent.Registerer = cfg.Registerer
	}
	if cfg.NodeID == "" {
		cfg.NodeID = cfg.Agent.NodeName
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = "0.0.0.0"
	}
	return cfg
}

// newProxy creates the node proxy; every listener set it gets over xDS is
// handed to agent to steer to.
func newProxy(cfg Config, agent *Agent) (*proxy.Proxy, error) {
	log := cfg.Agent.Logger
	if log == nil {
		log = slog.Default()
	}
	return proxy.New(proxy.Options{
		ADSAddress:  cfg.ADSAddress,
		NodeID:      cfg.NodeID,
		ListenHost:  cfg.ListenHost,
		Logger:      log.With("component", "proxy"),
		Registerer:  cfg.Registerer,
		OnListeners: func(ls []proxy.ListenerInfo) { agent.SetListeners(FromProxy(ls)) },
	})
}

// runBoth runs the proxy and the agent until ctx is done or one of them
// stops, then stops the other and waits for it.
func runBoth(ctx context.Context, p *proxy.Proxy, agent *Agent) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- wrap("run proxy", p.Run(ctx)) }()
	go func() { errc <- wrap("run node agent", agent.Run(ctx)) }()
	first := <-errc
	cancel() // One stopped: stop the other too.
	return errors.Join(first, <-errc)
}

func wrap(what string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// FromProxy converts the proxy's listener list.
func FromProxy(ls []proxy.ListenerInfo) []Listener {
	out := make([]Listener, 0, len(ls))
	for _, l := range ls {
		out = append(out, Listener{
			Name: l.Name, Port: l.Port, VIPs: l.VIPs, ServicePort: l.ServicePort, CallerNamespace: l.CallerNamespace,
		})
	}
	return out
}
