package main

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeploymentReady(t *testing.T) {
	one := int32(1)
	dep := func(st appsv1.DeploymentStatus) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: &one}, Status: st}
	}
	for _, tc := range []struct {
		name string
		st   appsv1.DeploymentStatus
		want bool
	}{
		{"rolled out", appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}, true},
		{"new spec not observed", appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}, false},
		// The old pod is ready, the new one is not yet: not rolled out.
		{"mid rollout", appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}, false},
		{"not ready", appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deploymentReady(dep(tc.st)); got != tc.want {
				t.Errorf("deploymentReady(%+v) = %v, want %v", tc.st, got, tc.want)
			}
		})
	}
}

func TestDaemonSetReady(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   appsv1.DaemonSetStatus
		want bool
	}{
		{"rolled out", appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}, true},
		{"no node", appsv1.DaemonSetStatus{ObservedGeneration: 2}, false},
		{"old pod still serving", appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 1, UpdatedNumberScheduled: 0, NumberReady: 1, NumberAvailable: 1}, false},
		{"new spec not observed", appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: tc.st}
			if got := daemonSetReady(ds); got != tc.want {
				t.Errorf("daemonSetReady(%+v) = %v, want %v", tc.st, got, tc.want)
			}
		})
	}
}
