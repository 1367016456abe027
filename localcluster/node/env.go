package node

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// objectGetter fetches the ConfigMaps and Secrets a pod refers to.
type objectGetter interface {
	ConfigMap(ctx context.Context, ns, name string) (map[string]string, error)
	Secret(ctx context.Context, ns, name string) (map[string][]byte, error)
}

// isNotFound reports whether err says the object does not exist.
type notFoundFunc func(error) bool

// buildEnv returns the environment of container c of pod (whose status
// carries the pod and host addresses) as NAME=value pairs, in the order
// Kubernetes defines: service variables, envFrom, env (with $(VAR)
// expansion). basePath is the image PATH.
func buildEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, get objectGetter, notFound notFoundFunc, svcEnv map[string]string, base map[string]string) ([]string, error) {
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, k := range sortedKeys(base) {
		set(k, base[k])
	}
	for _, k := range sortedKeys(svcEnv) {
		set(k, svcEnv[k])
	}
	for _, ef := range c.EnvFrom {
		var kind, name string
		var optional *bool
		switch {
		case ef.ConfigMapRef != nil:
			kind, name, optional = kindConfigMap, ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional
		case ef.SecretRef != nil:
			kind, name, optional = kindSecret, ef.SecretRef.Name, ef.SecretRef.Optional
		default:
			continue
		}
		data, err := readData(ctx, get, notFound, kind, pod.Namespace, name, optional)
		if err != nil {
			return nil, fmt.Errorf("envFrom: %w", err)
		}
		for _, k := range sortedKeys(data) {
			set(ef.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, env))
			continue
		}
		v, ok, err := envValueFrom(ctx, pod, c, e.ValueFrom, get, notFound)
		if err != nil {
			return nil, fmt.Errorf("resolve env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

func envValueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, vf *corev1.EnvVarSource, get objectGetter, notFound notFoundFunc) (string, bool, error) {
	switch {
	case vf.FieldRef != nil:
		v, err := fieldValue(pod, vf.FieldRef.FieldPath)
		return v, true, err
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		return dataValue(ctx, get, notFound, kindConfigMap, pod.Namespace, r.Name, r.Key, r.Optional)
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		return dataValue(ctx, get, notFound, kindSecret, pod.Namespace, r.Name, r.Key, r.Optional)
	case vf.ResourceFieldRef != nil:
		r := vf.ResourceFieldRef
		name := c.Name
		if r.ContainerName != "" {
			name = r.ContainerName
		}
		for _, cc := range pod.Spec.Containers {
			if cc.Name != name {
				continue
			}
			kind, res, _ := strings.Cut(r.Resource, ".")
			list := cc.Resources.Limits
			if kind == "requests" {
				list = cc.Resources.Requests
			}
			if q, ok := list[corev1.ResourceName(res)]; ok {
				if !r.Divisor.IsZero() {
					return strconv.FormatInt((q.MilliValue()+r.Divisor.MilliValue()-1)/r.Divisor.MilliValue(), 10), true, nil
				}
				return strconv.FormatInt(q.Value(), 10), true, nil
			}
			return "0", true, nil
		}
		return "", false, fmt.Errorf("resourceFieldRef names unknown container %q", name)
	case vf.FileKeyRef != nil:
		return "", false, fmt.Errorf("fileKeyRef env is not supported by gamma-localnode")
	}
	return "", false, fmt.Errorf("valueFrom names no source")
}

// The kinds of object readData reads, as error messages name them.
const (
	kindConfigMap = "configmap"
	kindSecret    = "secret"
)

// readData returns the data of the ConfigMap or Secret (kind) called name in
// namespace ns, a Secret's values as strings. A missing object gives no data
// and no error when it is optional.
func readData(ctx context.Context, get objectGetter, notFound notFoundFunc, kind, ns, name string, optional *bool) (map[string]string, error) {
	var data map[string]string
	var err error
	switch kind {
	case kindSecret:
		var raw map[string][]byte
		raw, err = get.Secret(ctx, ns, name)
		data = make(map[string]string, len(raw))
		for k, v := range raw {
			data[k] = string(v)
		}
	case kindConfigMap:
		data, err = get.ConfigMap(ctx, ns, name)
	default:
		return nil, fmt.Errorf("read %s %s: not a ConfigMap or Secret", kind, name)
	}
	if err != nil {
		if notFound(err) && optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s %s: %w", kind, name, err)
	}
	return data, nil
}

// dataValue resolves a ConfigMap or Secret key reference (kind says which)
// to the key's value; ok is false when an optional object or key is
// missing.
func dataValue(ctx context.Context, get objectGetter, notFound notFoundFunc, kind, ns, name, key string, optional *bool) (v string, ok bool, err error) {
	data, err := readData(ctx, get, notFound, kind, ns, name, optional)
	if err != nil {
		return "", false, err
	}
	v, ok = data[key]
	if !ok && (optional == nil || !*optional) {
		return "", false, fmt.Errorf("%s %s has no key %q", kind, name, key)
	}
	return v, ok, nil
}

// fieldValue resolves a downward API field path of pod.
func fieldValue(pod *corev1.Pod, path string) (string, error) {
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		return joinIPs(pod.Status.PodIPs, func(ip corev1.PodIP) string { return ip.IP }), nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		return joinIPs(pod.Status.HostIPs, func(ip corev1.HostIP) string { return ip.IP }), nil
	}
	return "", fmt.Errorf("unsupported downward API field %q", path)
}

// joinIPs joins the address of each of ips, which ip reads, with commas.
func joinIPs[T any](ips []T, ip func(T) string) string {
	out := make([]string, len(ips))
	for i, v := range ips {
		out[i] = ip(v)
	}
	return strings.Join(out, ",")
}

func formatMap(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// expand replaces $(VAR) with values from env the Kubernetes way: $$ is a
// literal $, and an unknown $(VAR) stays as written.
func expand(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// serviceEnv returns the docker-links style variables kubelet sets for
// the Services visible to a pod (its namespace, plus "kubernetes").
func serviceEnv(svcs []*corev1.Service, ns string) map[string]string {
	env := map[string]string{}
	for _, s := range svcs {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		if s.Namespace != ns && !(s.Namespace == "default" && s.Name == "kubernetes") {
			continue
		}
		name := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
		ip := s.Spec.ClusterIP
		first := s.Spec.Ports[0]
		env[name+"_SERVICE_HOST"] = ip
		env[name+"_SERVICE_PORT"] = strconv.Itoa(int(first.Port))
		env[name+"_PORT"] = fmt.Sprintf("%s://%s:%d", strings.ToLower(string(protoOr(first.Protocol))), ip, first.Port)
		for _, p := range s.Spec.Ports {
			proto := protoOr(p.Protocol)
			if p.Name != "" {
				env[name+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = strconv.Itoa(int(p.Port))
			}
			pfx := fmt.Sprintf("%s_PORT_%d_%s", name, p.Port, proto)
			env[pfx] = fmt.Sprintf("%s://%s:%d", strings.ToLower(string(proto)), ip, p.Port)
			env[pfx+"_PROTO"] = strings.ToLower(string(proto))
			env[pfx+"_PORT"] = strconv.Itoa(int(p.Port))
			env[pfx+"_ADDR"] = ip
		}
	}
	return env
}

func protoOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
