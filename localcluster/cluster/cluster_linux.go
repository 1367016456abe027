package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gammaproof/gammaproof/internal/crds"
	"github.com/gammaproof/gammaproof/internal/procmounts"
)

// Timeouts of the steps of Up.
const (
	etcdTimeout      = 30 * time.Second
	apiServerTimeout = 60 * time.Second
	// restTimeout bounds everything after the API server is ready.
	restTimeout = 90 * time.Second
	// stopGrace is how long components get between SIGTERM and SIGKILL.
	// Short: everything they leave is removed right after (the node's pods
	// by `gamma-localnode cleanup`, etcd's data with the state dir).
	stopGrace = 3 * time.Second
	pollEvery = 100 * time.Millisecond
)

// markerFile marks a state directory as ours, so Down only ever removes a
// directory Up created.
const markerFile = ".gammaproof-local"

// Up starts the cluster and waits until the Node is Ready, the Gateway API
// CRDs are established and the default ServiceAccount exists. When every
// component already runs it returns at once with AlreadyRunning set. The
// leftovers of a crashed or killed run are cleaned up first. When a step
// fails, what was started is stopped again and the logs are kept.
func (c *Cluster) Up(ctx context.Context) (*UpResult, error) {
	start := time.Now()
	l := c.layout
	if err := checkHost(c.opts.BinDir, c.components()); err != nil {
		return nil, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st.Running() {
		return &UpResult{AlreadyRunning: true, Took: time.Since(start), Kubeconfig: l.Kubeconfig()}, nil
	}
	// Our own leftover processes go first: they may hold the ports. Only
	// then are the ports checked, so that a cluster run from another state
	// dir stops us before we clean up the host under its feet.
	left, err := findProcesses(l)
	if err != nil {
		return nil, err
	}
	if len(left) > 0 {
		c.progressf("stopping %d processes left by a previous run", len(left))
		pids := make([]int, 0, len(left))
		for pid := range left {
			pids = append(pids, pid)
		}
		if err := stopProcesses(ctx, pids, stopGrace); err != nil {
			return nil, fmt.Errorf("clean up previous run: %w", err)
		}
	}
	waitExiting(ctx, l, stopGrace)
	if err := CheckPorts(); err != nil {
		return nil, err
	}
	if c.hasLeftovers() {
		c.progressf("cleaning up the leftovers of a previous run")
		if err := c.Down(ctx); err != nil {
			return nil, fmt.Errorf("clean up previous run: %w", err)
		}
	}
	if err := c.prepare(); err != nil {
		return nil, err
	}
	procs, err := c.startAll(ctx, start)
	if err != nil {
		c.progressf("up failed; stopping what was started (logs stay in %s)", l.LogDir())
		var pids []int
		for _, p := range procs {
			pids = append(pids, p.pid)
		}
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if serr := errors.Join(stopProcesses(stopCtx, pids, stopGrace), c.cleanupHost(stopCtx)); serr != nil {
			c.opts.Logger.Warn("stop after failed up", "err", serr)
		}
		return nil, err
	}
	took := time.Since(start)
	c.progressf("cluster up in %.1fs", took.Seconds())
	return &UpResult{Took: took, Kubeconfig: l.Kubeconfig()}, nil
}

// prepare creates the state directory, the PKI and the kubeconfigs.
func (c *Cluster) prepare() error {
	l := c.layout
	for _, d := range []string{l.Dir, l.LogDir(), l.RunDir(), l.NodeDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create state dir: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(l.Dir, markerFile), []byte("state of `gammaproof cluster up`; `gammaproof cluster down` removes it\n"), 0o644); err != nil {
		return fmt.Errorf("write state marker: %w", err)
	}
	p, err := NewPKI()
	if err != nil {
		return err
	}
	if err := p.Write(l.PKIDir()); err != nil {
		return err
	}
	return writeKubeconfigs(l, p)
}

// startAll starts the components in order and waits for each to be ready.
// It returns every process it started, also on error.
func (c *Cluster) startAll(ctx context.Context, t0 time.Time) ([]*proc, error) {
	s := &startup{c: c, t0: t0}
	err := s.run(ctx)
	return s.procs, err
}

// startup is one run of [Cluster.startAll]: the processes started so far
// and when Up began, for the progress lines.
type startup struct {
	c     *Cluster
	t0    time.Time
	procs []*proc
}

// run starts etcd, then the API server, then everything else, and waits
// until all of it is ready.
func (s *startup) run(ctx context.Context) error {
	etcd, err := s.start(Etcd)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, etcdTimeout, etcd, httpOK(plainHTTP, "http://127.0.0.1:2379/health")); err != nil {
		return err
	}
	s.report(etcd, "ready")

	api, err := s.start(APIServer)
	if err != nil {
		return err
	}
	cfg, err := s.c.RestConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	// Creating the CRDs is the slowest step (the API server compiles their
	// CEL rules), so it starts as soon as the API server answers, while
	// the API server finishes its own start.
	crdCtx, crdCancel := context.WithCancel(ctx)
	defer crdCancel()
	crdDone := make(chan error, 1)
	go func() { crdDone <- installCRDs(crdCtx, cfg, apiServerTimeout+restTimeout) }()

	// The other components start as soon as the API server is live: each
	// retries until it is ready, and starting them early overlaps their
	// start with the API server's post-start hooks and the CRDs.
	if err := waitFor(ctx, apiServerTimeout, api, apiHealth(cs, "/livez")); err != nil {
		return err
	}
	s.report(api, "serving")
	started, err := s.startRest()
	if err != nil {
		return err
	}
	if err := s.waitRest(ctx, cs, started, crdDone); err != nil {
		return err
	}
	// The rest started once the API server was live; by now it should be
	// ready too (all its post-start hooks done), and Up promises that.
	if err := waitFor(ctx, apiServerTimeout, api, apiHealth(cs, "/readyz")); err != nil {
		return err
	}
	s.report(api, "ready")
	return nil
}

// start starts component name from the bin dir and records its process.
func (s *startup) start(name string) (*proc, error) {
	l := s.c.layout
	bin, err := binaryFor(s.c.opts.BinDir, name)
	if err != nil {
		return nil, err
	}
	args, err := Args(l, s.c.opts.BinDir, name)
	if err != nil {
		return nil, err
	}
	p, err := startDetached(l, name, bin, args)
	if p != nil {
		s.procs = append(s.procs, p)
	}
	return p, err
}

// report prints a progress line: component p reached state.
func (s *startup) report(p *proc, state string) {
	s.c.progressf("  %-24s %s (pid %d) at %.1fs", p.name, state, p.pid, time.Since(s.t0).Seconds())
}

// startRest starts every component after etcd and the API server at once.
func (s *startup) startRest() (map[string]*proc, error) {
	started := map[string]*proc{}
	for _, name := range s.c.components()[2:] {
		p, err := s.start(name)
		if err != nil {
			return nil, err
		}
		started[name] = p
	}
	return started, nil
}

// waitRest waits, all at once, until each started component passes its own
// readiness check, the CRDs are installed (crdDone) and the controller
// manager has made the default ServiceAccount. It returns every failure.
func (s *startup) waitRest(ctx context.Context, cs kubernetes.Interface, started map[string]*proc, crdDone <-chan error) error {
	checks := map[string]func(context.Context) error{
		ControllerManager: httpOK(loopbackTLS, "https://127.0.0.1:10257/healthz"),
		Scheduler:         httpOK(loopbackTLS, "https://127.0.0.1:10259/healthz"),
		LocalNode:         func(ctx context.Context) error { return nodeReady(ctx, cs) },
		Proxy:             httpOK(plainHTTP, "http://127.0.0.1:10256/healthz"),
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for name, p := range started {
		wg.Go(func() {
			if err := waitFor(ctx, restTimeout, p, checks[name]); err != nil {
				fail(err)
				return
			}
			s.report(p, "ready")
		})
	}
	wg.Go(func() {
		if err := <-crdDone; err != nil {
			fail(err)
			return
		}
		s.c.progressf("  %-24s installed at %.1fs", "Gateway API CRDs", time.Since(s.t0).Seconds())
	})
	wg.Go(func() {
		if err := waitFor(ctx, restTimeout, started[ControllerManager], func(ctx context.Context) error {
			_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
			return err
		}); err != nil {
			fail(fmt.Errorf("wait for the default ServiceAccount: %w", err))
		}
	})
	wg.Wait()
	return errors.Join(errs...)
}

// apiHealth checks the API server's health endpoint path (/livez, /readyz).
func apiHealth(cs kubernetes.Interface, path string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		return err
	}
}

// waitFor polls check until it succeeds, p exits, or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, p *proc, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: not ready after %s (last error: %v); see %s:\n%s", p.name, timeout, last, p.log, tail(p.log, 8))
		case <-t.C:
		}
	}
}

var (
	plainHTTP = &http.Client{}
	// loopbackTLS reaches the health endpoints of kube-controller-manager and
	// kube-scheduler on 127.0.0.1. They serve a self-signed certificate they
	// generate at start, so there is nothing to verify it against; the
	// endpoint carries no secrets.
	loopbackTLS = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
)

func httpOK(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// installCRDs creates or updates the experimental-channel Gateway API CRDs
// and waits until they are established. Until the API server answers, it
// retries; it gives up after timeout.
func installCRDs(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	list, err := crds.CRDs(crds.Experimental)
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 30 * time.Second // a CRD create is slow on a busy machine
	cs, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create apiextensions client: %w", err)
	}
	api := cs.ApiextensionsV1().CustomResourceDefinitions()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Creating a CRD takes the API server a while; create them all at once.
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, crd := range list {
		wg.Go(func() {
			for {
				err := applyCRD(ctx, api, crd)
				if err == nil {
					errs[i] = nil
					return
				}
				errs[i] = err
				select {
				case <-ctx.Done():
					return
				case <-time.After(pollEvery):
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, crd := range list {
		for {
			cur, err := api.Get(ctx, crd.Name, metav1.GetOptions{})
			if err == nil && established(cur) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for CRD %s to be established: %w", crd.Name, ctx.Err())
			case <-time.After(pollEvery):
			}
		}
	}
	return nil
}

// applyCRD creates crd, or updates it when it exists.
func applyCRD(ctx context.Context, api apiextensionsclient.CustomResourceDefinitionInterface, crd *apiextensionsv1.CustomResourceDefinition) error {
	crd = crd.DeepCopy()
	_, err := api.Create(ctx, crd, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := api.Get(ctx, crd.Name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("get CRD %s: %w", crd.Name, gerr)
		}
		crd.ResourceVersion = cur.ResourceVersion
		_, err = api.Update(ctx, crd, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("install CRD %s: %w", crd.Name, err)
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// Status reports which components run and whether the Node is Ready.
func (c *Cluster) Status(ctx context.Context) (*Status, error) {
	st := &Status{}
	for _, name := range c.components() {
		st.Components = append(st.Components, ComponentStatus{Name: name, PID: componentPID(c.layout, name)})
	}
	if st.Components[1].PID == 0 || c.opts.ControlPlaneOnly {
		st.NodeErr = errors.New("no node: kube-apiserver is not running or the cluster is control plane only")
		return st, nil
	}
	cfg, err := c.RestConfig()
	if err != nil {
		st.NodeErr = err
		return st, nil
	}
	cfg.Timeout = 3 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		st.NodeErr = fmt.Errorf("get node %s: %w", NodeName, err)
		return st, nil
	}
	st.NodeReady = readyCondition(n)
	return st, nil
}

// hasLeftovers reports whether anything of a previous run is left.
func (c *Cluster) hasLeftovers() bool {
	if _, err := os.Stat(c.layout.Dir); err == nil {
		return true
	}
	if _, err := os.Stat("/sys/class/net/" + Bridge); err == nil {
		return true
	}
	procs, err := findProcesses(c.layout)
	return err != nil || len(procs) > 0
}

// Down stops every component (also those whose pid file is lost), has
// gamma-localnode remove its namespaces, links and cgroups, deletes
// kube-proxy's nftables tables and the bpffs pins, and removes the state
// directory. It is idempotent.
func (c *Cluster) Down(ctx context.Context) error {
	l := c.layout
	found, err := findProcesses(l)
	if err != nil {
		return err
	}
	for _, name := range Components {
		if pid := componentPID(l, name); pid != 0 {
			found[pid] = name
		}
	}
	pids := make([]int, 0, len(found))
	for pid := range found {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	var errs []error
	if len(pids) > 0 {
		c.progressf("stopping %d processes", len(pids))
		errs = append(errs, stopProcesses(ctx, pids, stopGrace))
	}
	// With our processes gone, a listener on the API server port is another
	// local cluster's (run from another state dir): the bridge,
	// pod namespaces and rules on this host are then its own, not ours.
	if port, busy := otherClusterRuns(); busy {
		c.progressf("port %d is in use by another cluster: leaving the host's bridge, pod namespaces and rules alone", port)
	} else {
		errs = append(errs, c.cleanupHost(ctx))
	}
	errs = append(errs, c.removeStateDir())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("take the cluster down: %w", err)
	}
	c.progressf("cluster down")
	return nil
}

// otherClusterRuns reports whether the API server port is taken: every
// local cluster runs an API server there.
func otherClusterRuns() (int, bool) {
	if checkPort(APIServerPort) != nil {
		return APIServerPort, true
	}
	return 0, false
}

// cleanupHost removes what the node and kube-proxy made on the host.
func (c *Cluster) cleanupHost(ctx context.Context) error {
	var errs []error
	if bin, err := binaryFor(c.opts.BinDir, LocalNode); err == nil {
		cleanup := func() ([]byte, error) {
			return exec.CommandContext(ctx, bin, "cleanup", "--state-dir", c.layout.NodeDir(), "--bridge", Bridge).CombinedOutput()
		}
		out, err := cleanup()
		if err != nil {
			// Removing one thing can make another vanish (a veth goes with
			// its netns); a second pass sees the settled state.
			c.opts.Logger.Debug("gamma-localnode cleanup failed; retrying once", "err", err, "output", string(out))
			out, err = cleanup()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("run gamma-localnode cleanup: %w: %s", err, strings.TrimSpace(string(out))))
		}
	} else if _, serr := os.Stat("/sys/class/net/" + Bridge); serr == nil {
		errs = append(errs, fmt.Errorf("remove bridge %s and pod namespaces: %w", Bridge, err))
	}
	errs = append(errs, deleteNFTTables(ctx, "kube-proxy"))
	if err := os.RemoveAll(BPFPinDir); err != nil {
		errs = append(errs, fmt.Errorf("remove bpffs pins: %w", err))
	}
	return errors.Join(errs...)
}

// deleteNFTTables deletes the nftables tables named name in every family.
func deleteNFTTables(ctx context.Context, name string) error {
	nft, err := exec.LookPath("nft")
	if err != nil {
		return nil // no nft, so kube-proxy in nftables mode made no tables
	}
	out, err := exec.CommandContext(ctx, nft, "list", "tables").Output()
	if err != nil {
		return fmt.Errorf("list nftables tables: %w", err)
	}
	var errs []error
	s := bufio.NewScanner(strings.NewReader(string(out)))
	for s.Scan() {
		f := strings.Fields(s.Text()) // "table <family> <name>"
		if len(f) == 3 && f[0] == "table" && f[2] == name {
			if out, err := exec.CommandContext(ctx, nft, "delete", "table", f[1], f[2]).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("delete nftables table %s %s: %w: %s", f[1], f[2], err, strings.TrimSpace(string(out))))
			}
		}
	}
	return errors.Join(errs...)
}

// removeStateDir removes the state directory if Up made it. Mounts left
// under it are detached first, so removal never reaches into a bind mount.
func (c *Cluster) removeStateDir() error {
	dir := filepath.Clean(c.layout.Dir)
	if _, err := os.Stat(filepath.Join(dir, markerFile)); err != nil {
		if entries, derr := os.ReadDir(dir); os.IsNotExist(derr) || (derr == nil && len(entries) == 0) {
			return nil
		}
		return fmt.Errorf("remove state dir %s: it has no %s marker, so it was not made by `up`; remove it yourself", dir, markerFile)
	}
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", mounts[i], err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove state dir: %w", err)
	}
	return nil
}

// mountsUnder returns the mount points at or below dir, outermost first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := procmounts.Unescape(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) < len(out[j]) })
	return out, nil
}
