package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// WaitReady polls, for at most timeout, until the cluster behind cs is
// ready for workloads: the Node is Ready and the default ServiceAccount
// exists. Up already waits for both, so after it this returns at once.
func WaitReady(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := ready(ctx, cs)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the local control plane: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ready checks once what [WaitReady] waits for.
func ready(ctx context.Context, cs kubernetes.Interface) error {
	if err := nodeReady(ctx, cs); err != nil {
		return err
	}
	_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
	return err
}

func nodeReady(ctx context.Context, cs kubernetes.Interface) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if s := readyCondition(n); s != string(corev1.ConditionTrue) {
		return fmt.Errorf("node %s Ready=%q", NodeName, s)
	}
	return nil
}

func readyCondition(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return string(c.Status)
		}
	}
	return string(corev1.ConditionUnknown)
}
