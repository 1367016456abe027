package node

import (
	"context"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var errNotFoundTest = errors.New("not found")

type fakeObjects struct{}

func (fakeObjects) ConfigMap(_ context.Context, ns, name string) (map[string]string, error) {
	if name == "cfg" {
		return map[string]string{"color": "blue", "size": "L"}, nil
	}
	return nil, errNotFoundTest
}

func (fakeObjects) Secret(_ context.Context, ns, name string) (map[string][]byte, error) {
	if name == "sec" {
		return map[string][]byte{"token": []byte("s3cr3t")}, nil
	}
	return nil, errNotFoundTest
}

func TestBuildEnv(t *testing.T) {
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u-1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "gammaproof-local", ServiceAccountName: "sa"},
		Status:     corev1.PodStatus{PodIP: "198.18.0.9", HostIP: "198.18.0.1"},
	}
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	c := &corev1.Container{
		Name:    "app",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: field("metadata.name")},
			{Name: "POD_NAMESPACE", ValueFrom: field("metadata.namespace")},
			{Name: "POD_IP", ValueFrom: field("status.podIP")},
			{Name: "HOST_IP", ValueFrom: field("status.hostIP")},
			{Name: "APP", ValueFrom: field("metadata.labels['app']")},
			{Name: "NODE", ValueFrom: field("spec.nodeName")},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
			{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "color"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "x", Optional: &yes}}},
			{Name: "URL", Value: "http://$(POD_IP):8080/$(MISSING)/$$(POD_IP)"},
		},
	}
	svcs := serviceEnv([]*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "198.19.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "elsewhere"}, Spec: corev1.ServiceSpec{ClusterIP: "198.19.0.5", Ports: []corev1.ServicePort{{Port: 80}}}},
	}, "shop")
	got, err := buildEnv(context.Background(), pod, c, fakeObjects{}, func(err error) bool { return errors.Is(err, errNotFoundTest) }, svcs, map[string]string{"PATH": "/img"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/img",
		"KUBERNETES_SERVICE_HOST=198.19.0.1",
		"KUBERNETES_SERVICE_PORT=443",
		"KUBERNETES_SERVICE_PORT_HTTPS=443",
		"KUBERNETES_PORT=tcp://198.19.0.1:443",
		"CFG_color=blue",
		"CFG_size=L",
		"POD_NAME=web-1",
		"POD_NAMESPACE=shop",
		"POD_IP=198.18.0.9",
		"HOST_IP=198.18.0.1",
		"APP=web",
		"NODE=gammaproof-local",
		"TOKEN=s3cr3t",
		"COLOR=blue",
		"URL=http://198.18.0.9:8080/$(MISSING)/$(POD_IP)",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("env lacks %q; got %q", w, got)
		}
	}
	for _, kv := range got {
		if kv == "OPT=" || slices.Contains([]string{"OTHER_SERVICE_HOST=198.19.0.5"}, kv) {
			t.Errorf("env has %q, which must be absent", kv)
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: "BAD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "nokey"}}})
	if _, err := buildEnv(context.Background(), pod, c, fakeObjects{}, func(err error) bool { return errors.Is(err, errNotFoundTest) }, nil, nil); err == nil {
		t.Error("a missing mandatory secret key gave no error")
	}
}
