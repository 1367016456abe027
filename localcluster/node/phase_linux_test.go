package node

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestPhase pins kubelet's phase rules as the local node applies them.
func TestPhase(t *testing.T) {
	type state struct {
		initialized, finished, restartNever bool
		containers                          int
	}
	running := state{initialized: true, containers: 1}
	tests := []struct {
		name  string
		pod   state
		sum   containerSummary
		phase corev1.PodPhase
	}{
		{"an init container failed for good", running, containerSummary{initFailed: true, anyRunning: true}, corev1.PodFailed},
		{"not initialized yet", state{containers: 1}, containerSummary{allStarted: true}, corev1.PodPending},
		{"a container runs", running, containerSummary{anyRunning: true}, corev1.PodRunning},
		{"every container has started, one restarts", running, containerSummary{allStarted: true}, corev1.PodRunning},
		{"a container has never started", running, containerSummary{}, corev1.PodPending},
		{"all done, all exited 0", running, containerSummary{allDone: true, allStarted: true}, corev1.PodSucceeded},
		{"all done, one failed", running, containerSummary{allDone: true, anyFailed: true}, corev1.PodFailed},
		{"stopped, restartPolicy Never, one failed", state{initialized: true, finished: true, restartNever: true, containers: 1}, containerSummary{anyFailed: true}, corev1.PodFailed},
		{"stopped while running", state{initialized: true, finished: true, containers: 1}, containerSummary{anyRunning: true}, corev1.PodSucceeded},
		{"stopped while running, one had failed", state{initialized: true, finished: true, containers: 2}, containerSummary{anyRunning: true, anyFailed: true}, corev1.PodFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := &podRuntime{
				pod:         &corev1.Pod{},
				initialized: tt.pod.initialized,
				finished:    tt.pod.finished,
				ctrs:        make([]*container, tt.pod.containers),
			}
			if tt.pod.restartNever {
				pr.pod.Spec.RestartPolicy = corev1.RestartPolicyNever
			}
			if got := pr.phaseLocked(tt.sum); got != tt.phase {
				t.Errorf("phase = %s, want %s", got, tt.phase)
			}
		})
	}
}
