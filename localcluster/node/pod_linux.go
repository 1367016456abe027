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
	restartNever := pr.pod.Spec.RestartPolicy == corev1.RestartPolicyNever
	allDone, anyFailed, anyRunning, allStarted := true, false, false, true
	allReady := len(pr.ctrs) > 0
	for _, c := range pr.ctrs {
		cs := c.statusLocked()
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			allReady = false
		}
		switch {
		case cs.State.Running != nil:
			anyRunning = true
			allDone = false
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode != 0 {
				anyFailed = true
			}
			if !c.finalLocked() {
				allDone = false
			}
		default:
			allDone = false
			if cs.LastTerminationState.Terminated == nil {
				allStarted = false
			}
		}
	}
	initFailed := false
	for _, c := range pr.inits {
		cs := c.statusLocked()
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && c.finalLocked() {
			initFailed = true
		}
	}
	switch {
	case initFailed:
		st.Phase = corev1.PodFailed
	case pr.initialized && allDone && len(pr.ctrs) > 0:
		if anyFailed {
			st.Phase = corev1.PodFailed
		} else {
			st.Phase = corev1.PodSucceeded
		}
	case pr.finished && restartNever && anyFailed:
		st.Phase = corev1.PodFailed
	case pr.initialized && (anyRunning || allStarted):
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	if pr.finished && st.Phase == corev1.PodRunning {
		// Every container is stopped; nothing runs any more.
		st.Phase = corev1.PodSucceeded
		if anyFailed {
			st.Phase = corev1.PodFailed
		}
	}
	now := metav1.Now()
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
		st.Conditions = append(st.Conditions, c)
	}
	sandboxMsg := pr.sandboxErr
	cond(corev1.PodReadyToStartContainers, pr.sandboxOK && !pr.finished, "SandboxNotReady", sandboxMsg)
	cond(corev1.PodInitialized, pr.initialized, "ContainersNotInitialized", "containers with incomplete status: init containers")
	cond(corev1.ContainersReady, allReady && !pr.finished, "ContainersNotReady", "containers with unready status")
	cond(corev1.PodReady, allReady && !pr.finished, "ContainersNotReady", "containers with unready status")
	cond(corev1.PodScheduled, true, "", "")
	if !pr.sandboxOK && sandboxMsg != "" {
		st.Message = sandboxMsg
		st.Reason = "SandboxSetupFailed"
	}
	return st
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
