package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// writeEtcFiles writes the pod's resolv.conf and hosts into its directory.
func (pr *podRuntime) writeEtcFiles(pod *corev1.Pod, ip netip.Addr) error {
	resolv, err := pr.p.resolvConf(pod)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pr.dir, "resolv.conf"), []byte(resolv), 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(pr.dir, "hosts"), []byte(hostsFile(pod, ip, pr.p.cfg.ClusterDomain)), 0o644); err != nil {
		return fmt.Errorf("write hosts: %w", err)
	}
	return nil
}

// resolvConf returns the pod's /etc/resolv.conf for its dnsPolicy.
func (p *provider) resolvConf(pod *corev1.Pod) (string, error) {
	var servers, search, options []string
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if pod.Spec.HostNetwork && policy == corev1.DNSClusterFirst {
		policy = corev1.DNSDefault
	}
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		d := p.cfg.ClusterDomain
		servers = []string{p.cfg.BridgeIP.String()}
		search = []string{pod.Namespace + ".svc." + d, "svc." + d, d}
		options = []string{"ndots:5"}
	case corev1.DNSDefault:
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("read host resolv.conf: %w", err)
		}
		return string(b), nil
	case corev1.DNSNone:
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		servers = append(servers, dc.Nameservers...)
		search = append(search, dc.Searches...)
		for _, o := range dc.Options {
			if o.Value != nil {
				options = append(options, o.Name+":"+*o.Value)
			} else {
				options = append(options, o.Name)
			}
		}
	}
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String(), nil
}

func hostsFile(pod *corev1.Pod, ip netip.Addr, domain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (gamma-localnode).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	h := podHostname(pod)
	if pod.Spec.Subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, h, pod.Spec.Subdomain, pod.Namespace, domain, h)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", ip, h)
	}
	for _, a := range pod.Spec.HostAliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.String()
}

func hasTokenVolume(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					return true
				}
			}
		}
	}
	return false
}

// prepareVolumes materialises the pod's volumes under dir/volumes and
// returns volume name -> host path. Supported: emptyDir, configMap,
// secret, hostPath, downwardAPI and projected (serviceAccountToken via the
// TokenRequest API, configMap, secret, downwardAPI).
func (p *provider) prepareVolumes(ctx context.Context, pod *corev1.Pod, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		path := filepath.Join(dir, "volumes", v.Name)
		var files map[string][]byte
		var err error
		switch {
		case v.EmptyDir != nil:
			if err := os.MkdirAll(path, 0o777); err != nil {
				return nil, fmt.Errorf("create emptyDir %s: %w", v.Name, err)
			}
			out[v.Name] = path
			continue
		case v.HostPath != nil:
			hp := v.HostPath
			if hp.Type != nil && *hp.Type == corev1.HostPathDirectoryOrCreate {
				if err := os.MkdirAll(hp.Path, 0o755); err != nil {
					return nil, fmt.Errorf("create hostPath %s: %w", hp.Path, err)
				}
			}
			if _, err := os.Stat(hp.Path); err != nil {
				return nil, fmt.Errorf("hostPath volume %s: %w", v.Name, err)
			}
			out[v.Name] = hp.Path
			continue
		case v.Projected != nil:
			files, err = p.projectedFiles(ctx, pod, v.Name, v.Projected.Sources)
		default:
			src, ok := asProjection(v.VolumeSource)
			if !ok {
				return nil, fmt.Errorf("volume %s: only emptyDir, hostPath, configMap, secret, downwardAPI and projected volumes are supported by gamma-localnode", v.Name)
			}
			files, err = p.projectedFiles(ctx, pod, v.Name, []corev1.VolumeProjection{src})
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if err := writeFiles(path, files); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		out[v.Name] = path
	}
	return out, nil
}

// asProjection returns a configMap, secret or downwardAPI volume source as
// the one projected source with the same files.
func asProjection(v corev1.VolumeSource) (corev1.VolumeProjection, bool) {
	switch {
	case v.ConfigMap != nil:
		return corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: v.ConfigMap.LocalObjectReference, Items: v.ConfigMap.Items, Optional: v.ConfigMap.Optional}}, true
	case v.Secret != nil:
		ref := corev1.LocalObjectReference{Name: v.Secret.SecretName}
		return corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: ref, Items: v.Secret.Items, Optional: v.Secret.Optional}}, true
	case v.DownwardAPI != nil:
		return corev1.VolumeProjection{DownwardAPI: &corev1.DownwardAPIProjection{Items: v.DownwardAPI.Items}}, true
	}
	return corev1.VolumeProjection{}, false
}

// projectedFiles returns the files of the sources of volume name, merged.
func (p *provider) projectedFiles(ctx context.Context, pod *corev1.Pod, name string, sources []corev1.VolumeProjection) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, s := range sources {
		var f map[string][]byte
		var err error
		switch {
		case s.ServiceAccountToken != nil:
			f, err = p.tokenFile(ctx, pod, s.ServiceAccountToken)
		case s.ConfigMap != nil:
			f, err = p.keyFiles(ctx, kindConfigMap, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional)
		case s.Secret != nil:
			f, err = p.keyFiles(ctx, kindSecret, pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional)
		case s.DownwardAPI != nil:
			f, err = downwardFiles(pod, s.DownwardAPI.Items)
		default:
			err = fmt.Errorf("projected source of volume %s is not supported by gamma-localnode", name)
		}
		if err != nil {
			return nil, err
		}
		for k, b := range f {
			files[k] = b
		}
	}
	return files, nil
}

// keyFiles returns the files of the keys of the ConfigMap or Secret (kind)
// called name in namespace ns, picked by items; none when it does not exist
// and the volume source is optional.
func (p *provider) keyFiles(ctx context.Context, kind, ns, name string, items []corev1.KeyToPath, optional *bool) (map[string][]byte, error) {
	data, err := readData(ctx, p, isNotFound, kind, ns, name, optional)
	if err != nil || data == nil {
		return nil, err
	}
	all := make(map[string][]byte, len(data))
	for k, v := range data {
		all[k] = []byte(v)
	}
	return pickItems(all, items, name)
}

func pickItems(all map[string][]byte, items []corev1.KeyToPath, name string) (map[string][]byte, error) {
	if len(items) == 0 {
		return all, nil
	}
	out := map[string][]byte{}
	for _, it := range items {
		b, ok := all[it.Key]
		if !ok {
			return nil, fmt.Errorf("%s has no key %q", name, it.Key)
		}
		out[it.Path] = b
	}
	return out, nil
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, fmt.Errorf("downwardAPI item %s: only fieldRef is supported", it.Path)
		}
		v, err := fieldValue(pod, it.FieldRef.FieldPath)
		if err != nil {
			return nil, err
		}
		out[it.Path] = []byte(v)
	}
	return out, nil
}

// tokenFile requests a bound service account token for the pod.
func (p *provider) tokenFile(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) (map[string][]byte, error) {
	exp := int64(3607)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	var aud []string
	if src.Audience != "" {
		aud = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         aud,
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	got, err := p.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("request token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	return map[string][]byte{src.Path: []byte(got.Status.Token)}, nil
}

// writeFiles replaces the files of dir with files (names may hold
// subdirectories). Each file is written atomically.
func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create volume dir: %w", err)
	}
	for name, b := range files {
		if strings.Contains(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("volume file path %q must be relative without ..", name)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create volume dir: %w", err)
		}
		tmp := p + ".gp-tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return fmt.Errorf("write volume file: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("write volume file: %w", err)
		}
	}
	return nil
}

// mounts returns the bind mounts of a container: resolv.conf, hosts and
// its volumeMounts. Missing host mount points are created and recorded.
func (c *container) mounts(pod *corev1.Pod, vols map[string]string) ([]bindMount, error) {
	p := c.pr.p
	var ms []bindMount
	add := func(src, dst string, ro bool) error {
		fi, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("mount source %s: %w", src, err)
		}
		if err := p.mountpoints.ensure(dst, fi.IsDir()); err != nil {
			return err
		}
		ms = append(ms, bindMount{src: src, dst: dst, readOnly: ro})
		return nil
	}
	if !pod.Spec.HostNetwork || pod.Spec.DNSPolicy == corev1.DNSClusterFirstWithHostNet {
		if err := add(filepath.Join(c.pr.dir, "resolv.conf"), "/etc/resolv.conf", false); err != nil {
			return nil, err
		}
	}
	if !pod.Spec.HostNetwork {
		if err := add(filepath.Join(c.pr.dir, "hosts"), "/etc/hosts", false); err != nil {
			return nil, err
		}
	}
	vms := append([]corev1.VolumeMount{}, c.spec.VolumeMounts...)
	sort.SliceStable(vms, func(i, j int) bool { return len(vms[i].MountPath) < len(vms[j].MountPath) })
	for _, vm := range vms {
		src, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s names no volume of the pod", vm.Name)
		}
		if vm.SubPath != "" {
			if strings.Contains(vm.SubPath, "..") || filepath.IsAbs(vm.SubPath) {
				return nil, fmt.Errorf("volumeMount %s: subPath must be relative without ..", vm.Name)
			}
			src = filepath.Join(src, vm.SubPath)
			if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, fmt.Errorf("create subPath: %w", err)
				}
			}
		}
		if err := add(src, vm.MountPath, vm.ReadOnly); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// mountpoints creates missing host paths used as bind-mount targets and
// records them in a file so cleanup removes them.
type mountpoints struct {
	mu   sync.Mutex
	file string
}

func (m *mountpoints) ensure(dst string, dir bool) error {
	if !filepath.IsAbs(dst) {
		return fmt.Errorf("mount path %q must be absolute", dst)
	}
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Record every path component that does not exist yet, top down.
	var created []string
	for p := dst; p != "/"; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		created = append([]string{p}, created...)
	}
	f, err := os.OpenFile(m.file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("record mount point: %w", err)
	}
	defer f.Close()
	for _, p := range created {
		if _, err := fmt.Fprintln(f, p); err != nil {
			return fmt.Errorf("record mount point: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("record mount point: %w", err)
	}
	if dir {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("create mount point %s: %w", dst, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("create mount point dir: %w", err)
	}
	if err := os.WriteFile(dst, nil, 0o644); err != nil {
		return fmt.Errorf("create mount point %s: %w", dst, err)
	}
	return nil
}

// removeMountpoints deletes the recorded paths, deepest first; a path that
// is no longer empty is left alone.
func removeMountpoints(file string) error {
	record, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read mount point record: %w", err)
	}
	var paths []string
	for l := range strings.Lines(string(record)) {
		if l = strings.TrimSpace(l); l != "" && filepath.IsAbs(l) && l != "/" {
			paths = append(paths, l)
		}
	}
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() && fi.Size() != 0 {
			continue // someone wrote to it: not ours any more
		}
		_ = os.Remove(p) // fails for non-empty dirs, which we keep
	}
	return nil
}
