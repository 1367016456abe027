package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podRuntime runs one pod: its sandbox (netns, cgroup, files) and its
// containers. Fields below mu are guarded by it.
type podRuntime struct {
	p       *provider
	uid     string
	key     string
	dir     string
	nsName  string
	veth    string
	cgDir   string
	hostNet bool // immutable in the pod spec
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	wg      sync.WaitGroup

	mu          sync.Mutex
	pod         *corev1.Pod
	ip          netip.Addr
	cgFD        *os.File
	startTime   metav1.Time
	sandboxOK   bool
	sandboxErr  string
	initialized bool
	inits       []*container
	ctrs        []*container
	terminating bool
	finished    bool
	volumes     map[string]string
}

func newPodRuntime(p *provider, pod *corev1.Pod) *podRuntime {
	uid := string(pod.UID)
	nsName, veth := podNames(uid, p.cfg.NetnsPrefix, p.cfg.VethPrefix)
	ctx, cancel := context.WithCancel(p.ctx)
	pr := &podRuntime{
		p:         p,
		uid:       uid,
		key:       pod.Namespace + "/" + pod.Name,
		dir:       filepath.Join(p.cfg.StateDir, "pods", uid),
		nsName:    nsName,
		veth:      veth,
		cgDir:     filepath.Join(p.cgParent, "pod"+uid),
		hostNet:   pod.Spec.HostNetwork,
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		pod:       pod.DeepCopy(),
		startTime: metav1.Now(),
	}
	for i := range pod.Spec.InitContainers {
		pr.inits = append(pr.inits, newContainer(pr, pod.Spec.InitContainers[i], true))
	}
	for i := range pod.Spec.Containers {
		pr.ctrs = append(pr.ctrs, newContainer(pr, pod.Spec.Containers[i], false))
	}
	return pr
}

func (pr *podRuntime) log() *slog.Logger {
	return pr.p.log.With("pod", pr.key, "uid", pr.uid)
}

func (pr *podRuntime) hostNetwork() bool { return pr.hostNet }

// run sets the sandbox up, runs init containers in order, then the
// containers, until the pod is terminated.
func (pr *podRuntime) run() {
	defer close(pr.done)
	if !pr.retry("sandbox", pr.setupSandbox) {
		return
	}
	pr.mu.Lock()
	pr.sandboxOK, pr.sandboxErr = true, ""
	pr.mu.Unlock()
	pr.changed()
	for _, c := range pr.inits {
		code, ok := c.loop(pr.ctx)
		if !ok {
			return
		}
		if code != 0 {
			pr.log().Info("init container failed; pod fails", "container", c.spec.Name, "exitCode", code)
			pr.changed()
			return
		}
	}
	pr.mu.Lock()
	pr.initialized = true
	pr.mu.Unlock()
	pr.changed()
	for _, c := range pr.ctrs {
		pr.wg.Add(1)
		go func() {
			defer pr.wg.Done()
			c.loop(pr.ctx)
		}()
	}
	pr.wg.Wait()
}

// retry runs f until it succeeds (true) or the pod ends (false); failures
// show in the pod status.
func (pr *podRuntime) retry(what string, f func() error) bool {
	delay := 500 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return true
		}
		pr.log().Warn("set up pod", "step", what, "err", err)
		pr.mu.Lock()
		pr.sandboxErr = err.Error()
		pr.mu.Unlock()
		pr.changed()
		select {
		case <-pr.ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// setupSandbox makes the pod's directory, address, network namespace,
// cgroup, resolv.conf, hosts and volumes.
func (pr *podRuntime) setupSandbox() error {
	if err := os.MkdirAll(pr.dir, 0o755); err != nil {
		return fmt.Errorf("create pod dir: %w", err)
	}
	var ip netip.Addr
	if pr.hostNetwork() {
		ip = pr.p.cfg.BridgeIP
	} else {
		var err error
		if ip, err = pr.p.ipam.Allocate(pr.uid); err != nil {
			return err
		}
		if err := pr.p.net.setupPod(pr.nsName, pr.veth, ip); err != nil {
			return err
		}
	}
	pr.mu.Lock()
	pr.ip = ip
	pr.mu.Unlock()
	if err := os.MkdirAll(pr.cgDir, 0o755); err != nil {
		return fmt.Errorf("create pod cgroup %s: %w", pr.cgDir, err)
	}
	fd, err := os.OpenFile(pr.cgDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open pod cgroup %s: %w", pr.cgDir, err)
	}
	pr.mu.Lock()
	if pr.cgFD != nil {
		_ = pr.cgFD.Close()
	}
	pr.cgFD = fd
	pod := pr.pod.DeepCopy()
	pr.mu.Unlock()
	if err := pr.writeEtcFiles(pod, ip); err != nil {
		return err
	}
	vols, err := pr.p.prepareVolumes(pr.ctx, pod, pr.dir)
	if err != nil {
		return err
	}
	pr.mu.Lock()
	pr.volumes = vols
	pr.mu.Unlock()
	if hasTokenVolume(pod) {
		go pr.refreshTokens()
	}
	return nil
}

// refreshTokens rewrites projected volumes (service account tokens) well
// before the tokens expire.
func (pr *podRuntime) refreshTokens() {
	t := time.NewTicker(20 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-pr.ctx.Done():
			return
		case <-t.C:
			pr.mu.Lock()
			pod := pr.pod.DeepCopy()
			pr.mu.Unlock()
			if _, err := pr.p.prepareVolumes(pr.ctx, pod, pr.dir); err != nil {
				pr.log().Warn("refresh projected volumes", "err", err)
			}
		}
	}
}

// gracePeriod is how long containers get between SIGTERM and SIGKILL.
func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// terminate stops the pod gracefully (SIGTERM, the grace period, SIGKILL,
// then cgroup.kill), tears the sandbox down and reports the final status.
// It is safe to call more than once; later calls wait for the first.
func (pr *podRuntime) terminate(grace time.Duration) {
	pr.mu.Lock()
	if pr.terminating {
		pr.mu.Unlock()
		<-pr.done
		pr.waitFinished()
		return
	}
	pr.terminating = true
	all := append(append([]*container{}, pr.inits...), pr.ctrs...)
	pr.mu.Unlock()
	pr.cancel()
	pr.log().Info("terminating pod", "grace", grace)
	for _, c := range all {
		c.signal(unix.SIGTERM)
	}
	timer := time.NewTimer(grace)
wait:
	for _, c := range all {
		select {
		case <-c.waitExited():
		case <-timer.C:
			break wait
		}
	}
	timer.Stop()
	for _, c := range all {
		c.signal(unix.SIGKILL)
	}
	if err := killCgroup(pr.cgDir); err != nil {
		pr.log().Warn("kill pod cgroup", "err", err)
	}
	<-pr.done
	if !pr.hostNetwork() {
		pr.p.net.teardownPod(pr.nsName, pr.veth)
		if err := pr.p.ipam.Release(pr.uid); err != nil {
			pr.log().Warn("release pod address", "err", err)
		}
	}
	pr.mu.Lock()
	if pr.cgFD != nil {
		_ = pr.cgFD.Close()
		pr.cgFD = nil
	}
	pr.finished = true
	pr.mu.Unlock()
	if err := os.RemoveAll(pr.dir); err != nil {
		pr.log().Warn("remove pod dir", "err", err)
	}
	pr.changed()
	pr.log().Info("pod terminated")
}

func (pr *podRuntime) waitFinished() {
	for {
		pr.mu.Lock()
		f := pr.finished
		pr.mu.Unlock()
		if f {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// changed sends the current pod and status to the pod controller.
func (pr *podRuntime) changed() {
	pr.p.notifyPod(pr.snapshot())
}

// snapshot returns a copy of the pod with its current status.
func (pr *podRuntime) snapshot() *corev1.Pod {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pod := pr.pod.DeepCopy()
	pod.Status = pr.statusLocked()
	return pod
}

// statusLocked is the pod's status as the API server should see it: the
// addresses, every container's status, the phase and the conditions.
func (pr *podRuntime) statusLocked() corev1.PodStatus {
	host := pr.p.cfg.BridgeIP.String()
	st := corev1.PodStatus{
		HostIP:    host,
		HostIPs:   []corev1.HostIP{{IP: host}},
		StartTime: &pr.startTime,
		QOSClass:  pr.pod.Status.QOSClass,
	}
	if pr.ip.IsValid() {
		st.PodIP = pr.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	var sum containerSummary
	st.ContainerStatuses, st.InitContainerStatuses, sum = pr.containerStatusesLocked()
	st.Phase = pr.phaseLocked(sum)
	st.Conditions = pr.conditionsLocked(sum.allReady)
	if !pr.sandboxOK && pr.sandboxErr != "" {
		st.Message = pr.sandboxErr
		st.Reason = "SandboxSetupFailed"
	}
	return st
}

// containerSummary is what the pod's phase and conditions need to know of
// its containers.
type containerSummary struct {
	// allDone: every regular container has terminated for good.
	allDone bool
	// anyFailed: a regular container's last exit code was not 0.
	anyFailed bool
	// anyRunning: a regular container is running.
	anyRunning bool
	// allStarted: every regular container has run at least once.
	allStarted bool
	// allReady: there are regular containers and every one is ready.
	allReady bool
	// initFailed: an init container failed for good.
	initFailed bool
}

// containerStatusesLocked returns the statuses of the regular and init
// containers and their summary.
func (pr *podRuntime) containerStatusesLocked() (ctrs, inits []corev1.ContainerStatus, sum containerSummary) {
	sum = containerSummary{allDone: true, allStarted: true, allReady: len(pr.ctrs) > 0}
	for _, c := range pr.ctrs {
		cs := c.statusLocked()
		ctrs = append(ctrs, cs)
		if !cs.Ready {
			sum.allReady = false
		}
		switch {
		case cs.State.Running != nil:
			sum.anyRunning = true
			sum.allDone = false
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode != 0 {
				sum.anyFailed = true
			}
			if !c.finalLocked() {
				sum.allDone = false
			}
		default:
			sum.allDone = false
			if cs.LastTerminationState.Terminated == nil {
				sum.allStarted = false
			}
		}
	}
	for _, c := range pr.inits {
		cs := c.statusLocked()
		inits = append(inits, cs)
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && c.finalLocked() {
			sum.initFailed = true
		}
	}
	return ctrs, inits, sum
}

// phaseLocked is the pod's phase, kubelet's rules: failed init, all done,
// failed under restartPolicy Never, running, else pending; a pod whose
// containers were all stopped is no longer running.
func (pr *podRuntime) phaseLocked(sum containerSummary) corev1.PodPhase {
	restartNever := pr.pod.Spec.RestartPolicy == corev1.RestartPolicyNever
	var phase corev1.PodPhase
	switch {
	case sum.initFailed:
		phase = corev1.PodFailed
	case pr.initialized && sum.allDone && len(pr.ctrs) > 0:
		if sum.anyFailed {
			phase = corev1.PodFailed
		} else {
			phase = corev1.PodSucceeded
		}
	case pr.finished && restartNever && sum.anyFailed:
		phase = corev1.PodFailed
	case pr.initialized && (sum.anyRunning || sum.allStarted):
		phase = corev1.PodRunning
	default:
		phase = corev1.PodPending
	}
	if pr.finished && phase == corev1.PodRunning {
		// Every container is stopped; nothing runs any more.
		phase = corev1.PodSucceeded
		if sum.anyFailed {
			phase = corev1.PodFailed
		}
	}
	return phase
}

// conditionsLocked are the pod's conditions; a condition whose status did
// not change keeps its last transition time.
func (pr *podRuntime) conditionsLocked(allReady bool) []corev1.PodCondition {
	now := metav1.Now()
	var conds []corev1.PodCondition
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: reason, Message: msg}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		for _, old := range pr.pod.Status.Conditions {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		conds = append(conds, c)
	}
	cond(corev1.PodReadyToStartContainers, pr.sandboxOK && !pr.finished, "SandboxNotReady", pr.sandboxErr)
	cond(corev1.PodInitialized, pr.initialized, "ContainersNotInitialized", "containers with incomplete status: init containers")
	cond(corev1.ContainersReady, allReady && !pr.finished, "ContainersNotReady", "containers with unready status")
	cond(corev1.PodReady, allReady && !pr.finished, "ContainersNotReady", "containers with unready status")
	cond(corev1.PodScheduled, true, "", "")
	return conds
}

// containerByName finds a container (regular or init).
func (pr *podRuntime) containerByName(name string) (*container, error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if name == "" && len(pr.ctrs) > 0 {
		return pr.ctrs[0], nil
	}
	for _, c := range append(append([]*container{}, pr.ctrs...), pr.inits...) {
		if c.spec.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("pod %s has no container %q", pr.key, name)
}

var errNotRunning = errors.New("container is not running")
