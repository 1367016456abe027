package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/gammaproof/gammaproof/bpf/shortcut"
	"github.com/gammaproof/gammaproof/bpf/steer"
	"github.com/gammaproof/gammaproof/internal/cgroup2"
)

// defaultResync is how often cgroups are rescanned without a Pod event:
// container cgroups appear after the Pod update that announces them.
const defaultResync = 2 * time.Second

// defaultKeepInherited is the default of Options.KeepInherited.
const defaultKeepInherited = 5 * time.Second

// Options configure an [Agent].
type Options struct {
	// Client reads the Pods bound to NodeName.
	Client kubernetes.Interface
	// NodeName is this node's name.
	NodeName string
	// ProxyIP is the address steered connections go to: the node's IP,
	// where the proxy's listeners accept.
	ProxyIP netip.Addr
	// CgroupParent is the cgroup v2 directory the programs attach to; every
	// pod cgroup is below it. See [ResolveCgroupParent].
	CgroupParent string
	// Shortcut attaches the socket shortcut (bpf/shortcut) too: data of
	// established connections between pods and the proxy on this node goes
	// socket to socket. When its programs cannot be loaded (an old kernel),
	// the agent warns and runs without. Optional.
	Shortcut bool
	// Registerer receives the agent's metrics (the socket shortcut's).
	// Optional.
	Registerer prometheus.Registerer
	// Resync is how often cgroups are rescanned. Optional; default 2s.
	Resync time.Duration
	// PinDir is a directory on a bpf filesystem where the steering
	// programs' maps and links are pinned (see [steer.Open]), so steering
	// outlives the agent: while no agent runs, connections to steered
	// Services go to the closed listener ports and are refused (fail
	// closed) instead of bypassing the routes through kube-proxy. A new
	// agent takes over the pinned maps and links. Empty: nothing is pinned
	// and the programs are detached when Run returns. Optional.
	PinDir string
	// KeepInherited is how long after the proxy's first listener report a
	// new agent keeps the steering entries it inherited from pinned maps
	// but no reported listener claims (yet): the proxy reports a listener
	// only once its routes arrived, and deleting the entry meanwhile would
	// send the Service's connections past the route. Optional; default 5s.
	KeepInherited time.Duration
	// DaemonSet is the namespace/name of the DaemonSet that runs the
	// agent. When it is deleted (gammaproof is being uninstalled) the
	// agent unpins and detaches the steering programs when it stops, so
	// Services are reached through kube-proxy again. Empty: the programs
	// stay pinned on every exit (see cmd gamma-node uninstall). Optional.
	DaemonSet string
	// Logger. Optional.
	Logger *slog.Logger
}

// steeringMaps is what the agent needs of [steer.Programs].
type steeringMaps interface {
	Steering() (map[steer.Key]steer.Target, error)
	SetSteering(steer.Key, steer.Target) error
	DeleteSteering(steer.Key) error
	CgroupNamespaces() (map[uint64]uint32, error)
	SetCgroupNamespace(uint64, uint32) error
	DeleteCgroup(uint64) error
}

var _ steeringMaps = (*steer.Programs)(nil)

// namespaceIDStore keeps the namespace ids with the pinned maps.
type namespaceIDStore interface {
	NamespaceIDs() (map[string]uint32, error)
	SetNamespaceID(string, uint32) error
}

var _ namespaceIDStore = (*steer.Programs)(nil)

// Agent keeps the steering programs attached and their maps in sync with
// the proxy's listeners ([Agent.SetListeners]) and the pods on the node.
type Agent struct {
	opts Options
	log  *slog.Logger
	kick chan struct{}

	mu        sync.Mutex
	listeners []Listener
	reported  time.Time // First SetListeners call; zero before.

	ids         NamespaceIDs      // Owned by the Run goroutine.
	savedIDs    map[string]uint32 // Owned by the Run goroutine: ids in the id store.
	inherited   bool              // Owned by the Run goroutine: maps came from pins.
	lastSkipped string            // Owned by the Run goroutine: skips logged last.

	uninstall atomic.Bool // The DaemonSet is gone: unpin on the way out.
}

// New checks opts and returns an agent; [Agent.Run] starts it.
func New(opts Options) (*Agent, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("create node agent: no Kubernetes client")
	case opts.NodeName == "":
		return nil, errors.New("create node agent: no node name: set --node-name or NODE_NAME")
	case !opts.ProxyIP.Unmap().Is4():
		return nil, fmt.Errorf("create node agent: proxy IP %q is not an IPv4 address: set --proxy-ip or HOST_IP", opts.ProxyIP)
	case opts.CgroupParent == "":
		return nil, errors.New("create node agent: no cgroup parent")
	}
	if opts.Resync <= 0 {
		opts.Resync = defaultResync
	}
	if opts.KeepInherited <= 0 {
		opts.KeepInherited = defaultKeepInherited
	}
	if opts.DaemonSet != "" {
		if ns, name, ok := strings.Cut(opts.DaemonSet, "/"); !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("create node agent: DaemonSet %q is not namespace/name", opts.DaemonSet)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	opts.ProxyIP = opts.ProxyIP.Unmap()
	return &Agent{opts: opts, log: log.With("component", "node-agent"), kick: make(chan struct{}, 1)}, nil
}

// SetListeners replaces the proxy listeners to steer to. Safe for
// concurrent use; use it as the proxy's OnListeners callback.
func (a *Agent) SetListeners(ls []Listener) {
	a.mu.Lock()
	a.listeners = slices.Clone(ls)
	if a.reported.IsZero() {
		a.reported = time.Now()
	}
	a.mu.Unlock()
	a.trigger()
}

func (a *Agent) trigger() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Run loads and attaches the programs, watches the node's Pods and keeps
// the maps in sync until ctx is done; then it detaches the programs (with
// Options.PinDir: leaves them attached, unless the DaemonSet was deleted)
// and returns nil. Sync errors are logged and retried.
func (a *Agent) Run(ctx context.Context) (err error) {
	progs, err := a.loadPrograms()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.release(progs)) }()
	if _, err := progs.Attach(a.opts.CgroupParent); err != nil {
		return err
	}
	a.log.Info("steering programs attached", "cgroup", a.opts.CgroupParent, "proxyIP", a.opts.ProxyIP,
		"pinDir", a.opts.PinDir, "inherited", a.inherited, "inheritedNamespaces", len(a.savedIDs))
	if a.opts.DaemonSet != "" {
		stop, err := a.watchDaemonSet(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	if a.opts.Shortcut {
		stop, err := a.startShortcut()
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stop()) }()
	}
	pods, stop, err := a.watchPods(ctx)
	if err != nil {
		return err
	}
	defer stop()
	a.syncLoop(ctx, progs, progs, pods)
	return nil
}

// loadPrograms loads the steering programs: pinned in Options.PinDir if
// set, taking over the maps (and namespace ids) an earlier agent pinned.
func (a *Agent) loadPrograms() (*steer.Programs, error) {
	if a.opts.PinDir == "" {
		return steer.Load()
	}
	progs, err := steer.Open(a.opts.PinDir)
	if err != nil {
		return nil, err
	}
	a.inherited = progs.Inherited()
	ids, err := progs.NamespaceIDs()
	if err != nil {
		return nil, errors.Join(err, progs.Close())
	}
	a.ids.Seed(ids)
	a.savedIDs = ids
	return progs, nil
}

// release closes progs: this detaches them, unless they are pinned; pinned
// ones are unpinned (detached) only when the DaemonSet was deleted.
func (a *Agent) release(progs *steer.Programs) error {
	err := progs.Close()
	switch {
	case a.opts.PinDir == "":
		a.log.Info("steering programs detached", "cgroup", a.opts.CgroupParent)
	case a.uninstall.Load():
		err = errors.Join(err, steer.Uninstall(a.opts.PinDir))
		a.log.Info("DaemonSet deleted: steering programs unpinned and detached", "daemonSet", a.opts.DaemonSet, "pinDir", a.opts.PinDir)
	default:
		a.log.Info("steering programs stay attached (pinned): connections to steered Services are refused until an agent listens again",
			"pinDir", a.opts.PinDir, "cgroup", a.opts.CgroupParent)
	}
	return err
}

// watchDaemonSet watches Options.DaemonSet and marks the agent for
// uninstall when it is deleted or marked for deletion.
func (a *Agent) watchDaemonSet(ctx context.Context) (stop func(), err error) {
	ns, name, _ := strings.Cut(a.opts.DaemonSet, "/")
	factory := informers.NewSharedInformerFactoryWithOptions(a.opts.Client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	informer := factory.Apps().V1().DaemonSets().Informer()
	mark := func(why string) {
		if !a.uninstall.Swap(true) {
			a.log.Info("DaemonSet "+why+": the steering programs will be unpinned when the agent stops", "daemonSet", a.opts.DaemonSet)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if ds, ok := obj.(*appsv1.DaemonSet); ok && ds.DeletionTimestamp != nil {
				mark("marked for deletion")
			}
		},
		DeleteFunc: func(any) { mark("deleted") },
	}); err != nil {
		return nil, fmt.Errorf("watch DaemonSet %s: %w", a.opts.DaemonSet, err)
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok && ctx.Err() == nil {
			factory.Shutdown()
			return nil, fmt.Errorf("sync %v informer: cache did not sync", typ)
		}
	}
	return factory.Shutdown, nil
}

// startShortcut attaches the socket shortcut and registers its metrics;
// stop unregisters and detaches it. When the shortcut's programs cannot be
// attached the agent runs without: startShortcut warns and stop does
// nothing. The error is for metrics that cannot be registered.
func (a *Agent) startShortcut() (stop func() error, err error) {
	sc, err := a.attachShortcut()
	if err != nil {
		a.log.Warn("socket shortcut off: connections to the proxy take the normal TCP path (pass --socket-shortcut=false to not try)", "err", err)
		return func() error { return nil }, nil
	}
	a.log.Info("socket shortcut attached", "cgroup", a.opts.CgroupParent, "proxyIP", a.opts.ProxyIP)
	reg := a.opts.Registerer
	if reg == nil {
		return sc.Close, nil
	}
	c := shortcutCollector{sc}
	if err := reg.Register(c); err != nil {
		return nil, errors.Join(fmt.Errorf("register socket shortcut metrics: %w", err), sc.Close())
	}
	return func() error {
		reg.Unregister(c)
		return sc.Close()
	}, nil
}

// watchPods starts an informer on the Pods bound to this node, which kicks
// a sync on every change, and waits for its cache; stop shuts it down.
func (a *Agent) watchPods(ctx context.Context) (pods corelisters.PodLister, stop func(), err error) {
	factory := informers.NewSharedInformerFactoryWithOptions(a.opts.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.opts.NodeName).String()
		}))
	informer := factory.Core().V1().Pods()
	kick := func(any) { a.trigger() }
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    kick,
		UpdateFunc: func(_, _ any) { a.trigger() },
		DeleteFunc: kick,
	}); err != nil {
		return nil, nil, fmt.Errorf("watch pods: %w", err)
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok && ctx.Err() == nil {
			factory.Shutdown()
			return nil, nil, fmt.Errorf("sync %v informer: cache did not sync", typ)
		}
	}
	return informer.Lister(), factory.Shutdown, nil
}

// syncLoop syncs the maps m now, then after every kick and every Resync,
// until ctx is done.
func (a *Agent) syncLoop(ctx context.Context, m steeringMaps, ids namespaceIDStore, pods corelisters.PodLister) {
	ticker := time.NewTicker(a.opts.Resync)
	defer ticker.Stop()
	for {
		if err := a.sync(m, ids, pods); err != nil {
			a.log.Error("sync steering maps", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		case <-ticker.C:
		}
	}
}

// attachShortcut loads the shortcut programs and attaches them for
// connections to and from the proxy IP.
func (a *Agent) attachShortcut() (*shortcut.Programs, error) {
	sc, err := shortcut.Load()
	if err != nil {
		return nil, err
	}
	if err := errors.Join(sc.SetProxies(a.opts.ProxyIP), sc.Attach(a.opts.CgroupParent)); err != nil {
		return nil, errors.Join(err, sc.Close())
	}
	return sc, nil
}

var (
	shortcutSocketsDesc = prometheus.NewDesc("gammaproof_node_shortcut_sockets",
		"Sockets in the socket shortcut's sockhash now: two per established connection between a pod and the proxy on this node.", nil, nil)
	shortcutFallbacksDesc = prometheus.NewDesc("gammaproof_node_shortcut_fallbacks_total",
		"Sockets that took the normal TCP path for good because their first write found no peer in the sockhash (the peer is elsewhere, or was not added yet).", nil, nil)
)

// shortcutCollector reads the socket shortcut's maps on scrape.
type shortcutCollector struct{ progs *shortcut.Programs }

func (c shortcutCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- shortcutSocketsDesc
	ch <- shortcutFallbacksDesc
}

func (c shortcutCollector) Collect(ch chan<- prometheus.Metric) {
	if n, err := c.progs.Sockets(); err != nil {
		ch <- prometheus.NewInvalidMetric(shortcutSocketsDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(shortcutSocketsDesc, prometheus.GaugeValue, float64(n))
	}
	if n, err := c.progs.Fallbacks(); err != nil {
		ch <- prometheus.NewInvalidMetric(shortcutFallbacksDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(shortcutFallbacksDesc, prometheus.CounterValue, float64(n))
	}
}

// sync makes the maps equal to the desired state. Namespace ids handed
// out are saved in ids first. A new agent that inherited pinned maps keeps
// their steering entries until the proxy has reported its listeners for
// Options.KeepInherited.
func (a *Agent) sync(m steeringMaps, ids namespaceIDStore, pods corelisters.PodLister) error {
	a.mu.Lock()
	listeners, reported := a.listeners, a.reported
	a.mu.Unlock()
	keep := a.inherited && (reported.IsZero() || time.Since(reported) < a.opts.KeepInherited)

	all, err := pods.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	podNS := podNamespaces(all)
	cgroups, err := WalkCgroups(a.opts.CgroupParent)
	if err != nil {
		return err
	}
	wantCg := DesiredCgroups(cgroups, podNS, &a.ids)
	wantSteer, skipped := DesiredSteering(listeners, a.opts.ProxyIP, &a.ids)
	if msg := errors.Join(skipped...); msg != nil && msg.Error() != a.lastSkipped {
		a.lastSkipped = msg.Error()
		for _, err := range skipped {
			a.log.Warn("listener not steered", "err", err)
		}
	} else if msg == nil {
		a.lastSkipped = ""
	}
	if err := a.saveIDs(ids); err != nil {
		return err
	}
	return apply(m, wantSteer, wantCg, keep, a.log)
}

// saveIDs records namespace ids not saved yet, before any map entry uses
// them.
func (a *Agent) saveIDs(store namespaceIDStore) error {
	for name, id := range a.ids.All() {
		if saved, ok := a.savedIDs[name]; ok && saved == id {
			continue
		}
		if err := store.SetNamespaceID(name, id); err != nil {
			return err
		}
		if a.savedIDs == nil {
			a.savedIDs = map[string]uint32{}
		}
		a.savedIDs[name] = id
	}
	return nil
}

func podNamespaces(pods []*corev1.Pod) map[string]string {
	out := make(map[string]string, len(pods))
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		out[string(p.UID)] = p.Namespace
	}
	return out
}

// apply turns the maps' contents into the wanted ones: cgroups first so a
// namespace entry never points at callers it cannot yet recognise. With
// keepSteer no steering entry is deleted.
func apply(m steeringMaps, wantSteer map[steer.Key]steer.Target, wantCg map[uint64]uint32, keepSteer bool, log *slog.Logger) error {
	haveCg, err := m.CgroupNamespaces()
	if err != nil {
		return err
	}
	haveSteer, err := m.Steering()
	if err != nil {
		return err
	}
	var errs []error
	setCg, delCg := Diff(haveCg, wantCg)
	for id, ns := range setCg {
		errs = append(errs, m.SetCgroupNamespace(id, ns))
	}
	setSteer, delSteer := Diff(haveSteer, wantSteer)
	if keepSteer {
		delSteer = nil
	}
	for k, t := range setSteer {
		errs = append(errs, m.SetSteering(k, t))
	}
	for _, k := range delSteer {
		errs = append(errs, m.DeleteSteering(k))
	}
	for _, id := range delCg {
		errs = append(errs, m.DeleteCgroup(id))
	}
	if n := len(setCg) + len(delCg) + len(setSteer) + len(delSteer); n > 0 {
		log.Info("steering maps updated",
			"steeringSet", len(setSteer), "steeringDeleted", len(delSteer), "steeringTotal", len(wantSteer),
			"cgroupsSet", len(setCg), "cgroupsDeleted", len(delCg), "cgroupsTotal", len(wantCg))
	}
	return errors.Join(errs...)
}

// WalkCgroups lists parent and every cgroup below it, with paths relative
// to parent. Cgroups removed during the walk are left out.
func WalkCgroups(parent string) ([]Cgroup, error) {
	var out []Cgroup
	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != parent {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		id, err := steer.CgroupID(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		rel, err := filepath.Rel(parent, p)
		if err != nil {
			return err
		}
		out = append(out, Cgroup{Path: filepath.ToSlash(rel), ID: id})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk cgroups under %s: %w", parent, err)
	}
	return out, nil
}

// ResolveCgroupParent returns the cgroup v2 directory to attach to: flag if
// set, else the Node's [cgroup2.ParentAnnotation], else the cgroup v2 root. A
// relative path is taken relative to the cgroup v2 mount.
func ResolveCgroupParent(ctx context.Context, client kubernetes.Interface, nodeName, flag string) (string, error) {
	dir := flag
	if dir == "" {
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("read node %s for its cgroup parent: %w", nodeName, err)
		}
		dir = node.Annotations[cgroup2.ParentAnnotation]
	}
	dir, err := cgroup2.Abs(dir)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("check cgroup parent: %w: pass an existing cgroup v2 directory with --cgroup-parent", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("check cgroup parent: %s is not a directory", dir)
	}
	return dir, nil
}
