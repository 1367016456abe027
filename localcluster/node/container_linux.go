package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilexec "k8s.io/utils/exec"
)

// Waiting reasons a container shows when it cannot start.
const (
	ReasonImageNotResolvable = "ImageNotResolvable"
	ReasonImageBinaryMissing = "ImageBinaryMissing"
	ReasonCreateConfigError  = "CreateContainerConfigError"
	ReasonRunContainerError  = "RunContainerError"
	ReasonCrashLoopBackOff   = "CrashLoopBackOff"
	ReasonContainerCreating  = "ContainerCreating"
	maxRestartBackoff        = 5 * time.Minute
	backoffResetAfter        = 10 * time.Minute
	startRetryDelay          = 5 * time.Second
	keepLogInstances         = 3
)

// waitingError is a start failure with the Waiting reason to show.
type waitingError struct {
	reason string
	err    error
}

func (e *waitingError) Error() string { return e.err.Error() }
func (e *waitingError) Unwrap() error { return e.err }

// container runs one container of a pod, restarting it per the pod's
// restart policy. Fields below are guarded by pr.mu.
type container struct {
	pr   *podRuntime
	spec corev1.Container
	init bool

	state    corev1.ContainerState
	last     corev1.ContainerState
	restarts int32
	ready    bool
	started  bool
	final    bool
	n        int
	cur      *instance
	img      Image
	env      []string
}

// instance is one run of a container's process.
type instance struct {
	n         int
	pid       int
	exited    chan struct{}
	exitCode  int
	stdin     io.WriteCloser
	pty       *os.File
	out       *fanout
	startedAt time.Time
	id        string
}

func newContainer(pr *podRuntime, spec corev1.Container, init bool) *container {
	return &container{
		pr:   pr,
		spec: spec,
		init: init,
		state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: ReasonContainerCreating,
		}},
	}
}

func (c *container) statusLocked() corev1.ContainerStatus {
	started := c.started
	cs := corev1.ContainerStatus{
		Name:                 c.spec.Name,
		Image:                c.spec.Image,
		ImageID:              "gammaproof-local://" + Repository(c.spec.Image),
		State:                c.state,
		LastTerminationState: c.last,
		Ready:                c.ready,
		RestartCount:         c.restarts,
		Started:              &started,
	}
	if c.cur != nil {
		cs.ContainerID = c.cur.id
	}
	return cs
}

// finalLocked reports whether the container will not run again.
func (c *container) finalLocked() bool { return c.final }

func (c *container) logPath(n int) string {
	return filepath.Join(c.pr.dir, "logs", c.spec.Name, fmt.Sprintf("%d.log", n))
}

// loop runs the container until it ends for good (returning its last exit
// code and true) or the pod is terminated (false).
func (c *container) loop(ctx context.Context) (int, bool) {
	backoff := c.pr.p.cfg.RestartBackoff
	for {
		inst, err := c.start(ctx)
		if err != nil {
			reason := ReasonRunContainerError
			var we *waitingError
			if errors.As(err, &we) {
				reason = we.reason
			}
			c.pr.log().Warn("start container", "container", c.spec.Name, "reason", reason, "err", err)
			c.pr.mu.Lock()
			c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}}
			c.pr.mu.Unlock()
			c.pr.changed()
			select {
			case <-ctx.Done():
				c.markFinal()
				return 0, false
			case <-time.After(startRetryDelay):
			}
			continue
		}
		c.pr.changed()
		pctx, cancelProbes := context.WithCancel(ctx)
		go c.probe(pctx, inst)
		<-inst.exited
		cancelProbes()
		code := inst.exitCode
		term := &corev1.ContainerStateTerminated{
			ExitCode:    int32(code),
			Reason:      "Completed",
			StartedAt:   metav1.NewTime(inst.startedAt),
			FinishedAt:  metav1.Now(),
			ContainerID: inst.id,
		}
		if code != 0 {
			term.Reason = "Error"
		}
		c.pr.mu.Lock()
		c.state = corev1.ContainerState{Terminated: term}
		c.ready = false
		c.pr.mu.Unlock()
		if ctx.Err() != nil {
			c.markFinal()
			return code, false
		}
		if !c.shouldRestart(code) {
			c.markFinal()
			return code, true
		}
		if time.Since(inst.startedAt) > backoffResetAfter {
			backoff = c.pr.p.cfg.RestartBackoff
		}
		c.pr.mu.Lock()
		c.last = corev1.ContainerState{Terminated: term}
		c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  ReasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, c.spec.Name, c.pr.key),
		}}
		c.pr.mu.Unlock()
		c.pr.changed()
		select {
		case <-ctx.Done():
			c.pr.mu.Lock()
			c.state = c.last
			c.pr.mu.Unlock()
			c.markFinal()
			return code, false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxRestartBackoff)
		c.pr.mu.Lock()
		c.restarts++
		c.pr.mu.Unlock()
	}
}

func (c *container) markFinal() {
	c.pr.mu.Lock()
	c.final = true
	c.pr.mu.Unlock()
	c.pr.changed()
}

func (c *container) shouldRestart(code int) bool {
	c.pr.mu.Lock()
	policy := c.pr.pod.Spec.RestartPolicy
	c.pr.mu.Unlock()
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	if c.init {
		return code != 0 // init containers run to completion
	}
	return true
}

// start resolves the image, builds the environment and mounts and starts
// the process in the pod's namespaces and cgroup.
//
// Go cannot setns(CLONE_NEWNS) in its multithreaded process, so a
// container starts as
//
//	nsenter --net=/run/netns/<ns> -- gamma-localnode container-init --mount SRC DST rw ... -- CMD ARGS
//
// forked with SysProcAttr.Unshareflags = CLONE_NEWNS|CLONE_NEWUTS (Go
// makes / private in the child) and UseCgroupFD (clone3 into the pod
// cgroup, so no process ever runs outside it). container-init bind-mounts
// resolv.conf, hosts and the volumes in the fresh mount namespace, sets
// the hostname and execs the command found in the image PATH; the pid
// stays the same through every exec.
func (c *container) start(ctx context.Context) (*instance, error) {
	l, err := c.prepare(ctx)
	if err != nil {
		return nil, err
	}
	c.pr.mu.Lock()
	c.n++
	n := c.n
	c.img, c.env = l.img, l.env
	c.pr.mu.Unlock()
	logf, err := c.openLog(n)
	if err != nil {
		return nil, err
	}
	cmd := c.pr.p.processCmd(l.hostNetwork, c.pr.nsName, nil, l.init.args())
	cmd.Env = l.env
	flags := uintptr(unix.CLONE_NEWNS)
	if !l.hostNetwork {
		flags |= unix.CLONE_NEWUTS
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: flags, UseCgroupFD: true, CgroupFD: int(l.cgFD.Fd())}
	inst := &instance{n: n, exited: make(chan struct{}), out: &fanout{}, id: fmt.Sprintf("gammaproof://%s/%s/%d", c.pr.uid, c.spec.Name, n)}
	out, childEnds, err := c.connectStdio(cmd, inst)
	if err != nil {
		logf.Close()
		return nil, err
	}
	err = cmd.Start()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		out.Close()
		logf.Close()
		return nil, fmt.Errorf("start container process: %w", err)
	}
	inst.pid = cmd.Process.Pid
	inst.startedAt = time.Now()
	inst.watch(cmd, logf, out)
	c.markRunning(inst)
	c.pr.log().Info("container started", "container", c.spec.Name, "pid", inst.pid, "argv", l.init.argv)
	return inst, nil
}

// launch is what one run of a container needs, gathered before its process
// starts.
type launch struct {
	hostNetwork bool
	cgFD        *os.File // the pod cgroup, for clone3
	img         Image
	env         []string
	init        initSpec // container-init's mounts, workdir, hostname and argv
}

// prepare resolves the image, builds the environment, the command line and
// the mounts. Its errors are *waitingError with the reason to show.
func (c *container) prepare(ctx context.Context) (launch, error) {
	img, err := c.pr.p.images.Resolve(c.spec.Image)
	if err != nil {
		reason := ReasonImageNotResolvable
		if errors.Is(err, ErrImageBinaryMissing) {
			reason = ReasonImageBinaryMissing
		}
		return launch{}, &waitingError{reason: reason, err: err}
	}
	c.pr.mu.Lock()
	pod := c.pr.pod.DeepCopy()
	pod.Status = c.pr.statusLocked()
	vols := c.pr.volumes
	cgFD := c.pr.cgFD
	c.pr.mu.Unlock()
	if cgFD == nil {
		return launch{}, &waitingError{reason: ReasonCreateConfigError, err: errors.New("pod cgroup is gone")}
	}
	env, err := c.environment(ctx, pod, img)
	if err != nil {
		return launch{}, &waitingError{reason: ReasonCreateConfigError, err: err}
	}
	argv, err := c.commandLine(img, env)
	if err != nil {
		return launch{}, err
	}
	mounts, err := c.mounts(pod, vols)
	if err != nil {
		return launch{}, &waitingError{reason: ReasonCreateConfigError, err: err}
	}
	l := launch{
		hostNetwork: pod.Spec.HostNetwork,
		cgFD:        cgFD,
		img:         img,
		env:         env,
		init:        initSpec{mounts: mounts, workdir: c.spec.WorkingDir, argv: argv},
	}
	if !pod.Spec.HostNetwork {
		l.init.hostname = podHostname(pod)
	}
	if len(img.Files) > 0 {
		if l.init.root, l.init.rootFiles, err = c.rootFiles(img); err != nil {
			return launch{}, &waitingError{reason: ReasonCreateConfigError, err: err}
		}
	}
	return l, nil
}

// rootFiles returns the empty pod-directory folder container-init builds
// the container's own root on, and the image's root files to put there,
// in path order.
func (c *container) rootFiles(img Image) (string, []bindMount, error) {
	dir := filepath.Join(c.pr.dir, "root-"+c.spec.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create container root dir: %w", err)
	}
	var files []bindMount
	for _, dst := range slices.Sorted(maps.Keys(img.Files)) {
		files = append(files, bindMount{src: img.Files[dst], dst: dst, readOnly: true})
	}
	return dir, files, nil
}

// commandLine returns the container's argv: command and args (or the
// image's defaults) with $(VAR) expanded from env, and the command found in
// the image PATH. Its errors are *waitingError.
func (c *container) commandLine(img Image, env []string) ([]string, error) {
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	argv := img.Argv(c.spec.Command, c.spec.Args)
	if len(argv) == 0 {
		return nil, &waitingError{reason: ReasonCreateConfigError, err: fmt.Errorf("image %s has no default command: set command", img.Name)}
	}
	for i := range argv {
		argv[i] = expand(argv[i], envMap)
	}
	var err error
	if argv[0], err = img.Command(argv[0]); err != nil {
		return nil, &waitingError{reason: ReasonRunContainerError, err: err}
	}
	return argv, nil
}

// openLog opens the log of run n for appending and removes the log of the
// run keepLogInstances before it.
func (c *container) openLog(n int) (*os.File, error) {
	logPath := c.logPath(n)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	_ = os.Remove(c.logPath(n - keepLogInstances)) // old logs; may not exist
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return logf, nil
}

// connectStdio gives cmd a terminal (spec.TTY) or an output pipe and, with
// spec.Stdin, an input pipe, and records the parent's ends in inst. It
// returns the file the output is read from and the child's ends, which the
// caller closes once the process has started.
func (c *container) connectStdio(cmd *exec.Cmd, inst *instance) (out *os.File, childEnds []*os.File, err error) {
	if c.spec.TTY {
		master, slave, err := openPTY()
		if err != nil {
			return nil, nil, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
		inst.pty, inst.stdin = master, master
		return master, []*os.File{slave}, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("create output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr.Setpgid = true
	if !c.spec.Stdin {
		return r, []*os.File{w}, nil
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, nil, fmt.Errorf("create stdin pipe: %w", err)
	}
	cmd.Stdin = sr
	inst.stdin = sw
	return r, []*os.File{w, sr}, nil
}

// watch copies the started process's output from out to its log and to
// inst.out until the process is gone, and records its exit code and closes
// inst.exited when it exits.
func (inst *instance) watch(cmd *exec.Cmd, logf, out *os.File) {
	go func() {
		_, _ = io.Copy(io.MultiWriter(logf, inst.out), out) // ends at EOF/EIO when the process is gone
		_ = logf.Close()
		if inst.pty == nil {
			_ = out.Close()
		}
	}()
	go func() {
		err := cmd.Wait()
		inst.exitCode = exitCode(cmd, err)
		if inst.stdin != nil && inst.pty == nil {
			_ = inst.stdin.Close()
		}
		if inst.pty != nil {
			_ = inst.pty.Close()
		}
		close(inst.exited)
	}()
}

// markRunning makes inst the current run and the container Running; it is
// started and ready at once unless a startup or readiness probe says so
// later (an init container is never ready).
func (c *container) markRunning(inst *instance) {
	c.pr.mu.Lock()
	defer c.pr.mu.Unlock()
	c.cur = inst
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(inst.startedAt)}}
	c.started = c.spec.StartupProbe == nil
	c.ready = c.spec.ReadinessProbe == nil && c.started && !c.init
}

func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		if err != nil {
			return 128
		}
		return 0
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// processCmd returns the command that runs args (a gamma-localnode
// subcommand line, or with target > 0 a command entered via nsenter into
// that process's namespaces) in the pod's network namespace.
func (p *provider) processCmd(hostNetwork bool, nsName string, nsenterArgs []string, selfArgs []string) *exec.Cmd {
	if nsenterArgs != nil {
		return &exec.Cmd{Path: p.nsenter, Args: append([]string{"nsenter"}, nsenterArgs...)}
	}
	if hostNetwork {
		return &exec.Cmd{Path: p.cfg.Self, Args: append([]string{p.cfg.Self}, selfArgs...)}
	}
	a := []string{"nsenter", "--net=" + filepath.Join(netnsDir, nsName), "--", p.cfg.Self}
	return &exec.Cmd{Path: p.nsenter, Args: append(a, selfArgs...)}
}

// environment builds the container's environment.
func (c *container) environment(ctx context.Context, pod *corev1.Pod, img Image) ([]string, error) {
	base := map[string]string{
		"PATH":     img.PATH(),
		"HOSTNAME": podHostname(pod),
		"HOME":     "/root",
	}
	if c.spec.TTY {
		base["TERM"] = "xterm"
	}
	var svcEnv map[string]string
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		svcs, err := c.pr.p.services.List(labels.Everything())
		if err == nil {
			svcEnv = serviceEnv(svcs, pod.Namespace)
		}
	}
	return buildEnv(ctx, pod, &c.spec, c.pr.p, isNotFound, svcEnv, base)
}

func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	h := pod.Name
	if len(h) > 63 {
		h = h[:63]
	}
	return h
}

// signal sends sig to the current instance's process group.
func (c *container) signal(sig syscall.Signal) {
	c.pr.mu.Lock()
	inst := c.cur
	c.pr.mu.Unlock()
	if inst == nil {
		return
	}
	select {
	case <-inst.exited:
		return
	default:
	}
	_ = unix.Kill(-inst.pid, sig) // process group (Setpgid/Setsid)
	_ = unix.Kill(inst.pid, sig)  // in case it left its group
}

// waitExited returns a channel closed when the current instance (if any)
// has exited.
func (c *container) waitExited() <-chan struct{} {
	c.pr.mu.Lock()
	inst := c.cur
	c.pr.mu.Unlock()
	if inst == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return inst.exited
}

// running returns the current instance if its process is alive.
func (c *container) running() (*instance, error) {
	c.pr.mu.Lock()
	inst := c.cur
	c.pr.mu.Unlock()
	if inst == nil {
		return nil, fmt.Errorf("container %s: %w", c.spec.Name, errNotRunning)
	}
	select {
	case <-inst.exited:
		return nil, fmt.Errorf("container %s: %w", c.spec.Name, errNotRunning)
	default:
	}
	return inst, nil
}

// stopInstance stops a running instance gracefully (liveness failure).
func (c *container) stopInstance(inst *instance) {
	_ = unix.Kill(-inst.pid, unix.SIGTERM)
	_ = unix.Kill(inst.pid, unix.SIGTERM)
	c.pr.mu.Lock()
	grace := gracePeriod(c.pr.pod)
	c.pr.mu.Unlock()
	select {
	case <-inst.exited:
	case <-time.After(grace):
		_ = unix.Kill(-inst.pid, unix.SIGKILL)
		_ = unix.Kill(inst.pid, unix.SIGKILL)
	}
}

// probe runs the startup, readiness and liveness probes of one instance.
func (c *container) probe(ctx context.Context, inst *instance) {
	var wg sync.WaitGroup
	run := func(p *corev1.Probe, initial bool, onChange func(bool)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := NewProbeState(p, initial)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
			}
			t := time.NewTicker(probePeriod(p))
			defer t.Stop()
			for {
				c.pr.mu.Lock()
				host := c.pr.ip.String()
				started := c.started
				c.pr.mu.Unlock()
				if started || p == c.spec.StartupProbe {
					ok, msg := RunProbe(ctx, p, host, c.spec.Ports, func(ctx context.Context, cmd []string) (int, error) {
						return c.execCapture(ctx, cmd)
					})
					if ctx.Err() != nil {
						return
					}
					if !ok {
						c.pr.log().Debug("probe failed", "container", c.spec.Name, "msg", msg)
					}
					if res, changed := st.Observe(ok); changed {
						onChange(res)
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	if p := c.spec.StartupProbe; p != nil {
		run(p, false, func(ok bool) {
			if ok {
				c.pr.mu.Lock()
				c.started = true
				c.ready = c.spec.ReadinessProbe == nil && !c.init
				c.pr.mu.Unlock()
				c.pr.changed()
				return
			}
			c.pr.log().Info("startup probe failed; restarting container", "container", c.spec.Name)
			c.stopInstance(inst)
		})
	}
	if p := c.spec.ReadinessProbe; p != nil && !c.init {
		run(p, false, func(ok bool) {
			c.pr.mu.Lock()
			c.ready = ok
			c.pr.mu.Unlock()
			c.pr.changed()
		})
	}
	if p := c.spec.LivenessProbe; p != nil && !c.init {
		run(p, true, func(ok bool) {
			if !ok {
				c.pr.log().Info("liveness probe failed; restarting container", "container", c.spec.Name)
				c.stopInstance(inst)
			}
		})
	}
	wg.Wait()
}

// execCmd builds a command that runs argv inside the container's
// namespaces and the pod's cgroup with the container's environment.
func (c *container) execCmd(argv []string) (*exec.Cmd, error) {
	inst, err := c.running()
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, errors.New("exec: no command")
	}
	c.pr.mu.Lock()
	img, env, cgFD := c.img, c.env, c.pr.cgFD
	hostNet := c.pr.pod.Spec.HostNetwork
	c.pr.mu.Unlock()
	argv = append([]string{}, argv...)
	if argv[0], err = img.Command(argv[0]); err != nil {
		return nil, err
	}
	ns := []string{fmt.Sprintf("--target=%d", inst.pid), "--mount"}
	if !hostNet {
		ns = append(ns, "--net", "--uts")
	}
	if c.spec.WorkingDir != "" {
		ns = append(ns, "--wd="+c.spec.WorkingDir)
	}
	ns = append(append(ns, "--"), argv...)
	cmd := c.pr.p.processCmd(hostNet, c.pr.nsName, ns, nil)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if cgFD != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cgFD.Fd())
	}
	return cmd, nil
}

// execCapture runs argv in the container and returns its exit code.
func (c *container) execCapture(ctx context.Context, argv []string) (int, error) {
	cmd, err := c.execCmd(argv)
	if err != nil {
		return -1, err
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start exec: %w", err)
	}
	err = waitOrKill(ctx, cmd)
	if ctx.Err() != nil {
		return -1, fmt.Errorf("exec timed out: %w", ctx.Err())
	}
	return exitCode(cmd, err), nil
}

// execAttached runs argv in the container wired to a kubectl exec stream.
func (c *container) execAttached(ctx context.Context, argv []string, aio api.AttachIO) error {
	cmd, err := c.execCmd(argv)
	if err != nil {
		return err
	}
	var pty *os.File
	if aio.TTY() {
		master, slave, err := openPTY()
		if err != nil {
			return err
		}
		defer master.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
		if err := cmd.Start(); err != nil {
			slave.Close()
			return fmt.Errorf("start exec: %w", err)
		}
		slave.Close()
		pty = master
		go resizeLoop(ctx, pty, aio.Resize())
		if in := aio.Stdin(); in != nil {
			go func() { _, _ = io.Copy(pty, in) }()
		}
		outDone := make(chan struct{})
		go func() {
			defer close(outDone)
			if out := aio.Stdout(); out != nil {
				_, _ = io.Copy(out, pty)
			}
		}()
		err = cmd.Wait()
		select {
		case <-outDone:
		case <-time.After(time.Second):
		}
	} else {
		cmd.SysProcAttr.Setpgid = true
		if in := aio.Stdin(); in != nil {
			cmd.Stdin = in
		}
		if out := aio.Stdout(); out != nil {
			cmd.Stdout = out
		}
		if e := aio.Stderr(); e != nil {
			cmd.Stderr = e
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start exec: %w", err)
		}
		err = waitOrKill(ctx, cmd)
	}
	if code := exitCode(cmd, err); code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// attach connects a kubectl attach stream to the running instance.
func (c *container) attach(ctx context.Context, aio api.AttachIO) error {
	inst, err := c.running()
	if err != nil {
		return err
	}
	if out := aio.Stdout(); out != nil {
		unsub := inst.out.subscribe(out)
		defer unsub()
	}
	if inst.pty != nil {
		go resizeLoop(ctx, inst.pty, aio.Resize())
	}
	if in := aio.Stdin(); in != nil && inst.stdin != nil {
		go func() {
			_, _ = io.Copy(inst.stdin, in)
			if c.spec.StdinOnce && inst.pty == nil {
				_ = inst.stdin.Close()
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-inst.exited:
	}
	return nil
}

func resizeLoop(ctx context.Context, pty *os.File, ch <-chan api.TermSize) {
	if ch == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-ch:
			if !ok {
				return
			}
			_ = unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: s.Height, Col: s.Width})
		}
	}
}

// openPTY opens a pseudo-terminal pair.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("get pty number: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", err)
	}
	return m, s, nil
}

// fanout copies a container's output to attached clients.
type fanout struct {
	mu   sync.Mutex
	next int
	subs map[int]io.Writer
}

func (f *fanout) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, w := range f.subs {
		if _, err := w.Write(p); err != nil {
			delete(f.subs, id)
		}
	}
	return len(p), nil
}

func (f *fanout) subscribe(w io.Writer) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[int]io.Writer{}
	}
	id := f.next
	f.next++
	f.subs[id] = w
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// waitOrKill waits for cmd, started in its own process group, and kills
// the group if ctx ends first.
func waitOrKill(ctx context.Context, cmd *exec.Cmd) error {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	return err
}
