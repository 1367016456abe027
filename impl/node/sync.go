package node

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/gammaproof/gammaproof/bpf/steer"
)

// Listener is the steering data of one proxy listener: callers in
// CallerNamespace ("" = any) connecting to one of VIPs on ServicePort go to
// the proxy's Port.
type Listener struct {
	Name            string
	Port            uint32
	VIPs            []netip.Addr
	ServicePort     uint32
	CallerNamespace string
}

// NamespaceIDs hands out stable, non-zero ids for namespace names; 0 is
// [steer.AnyNamespace]. The zero value is ready to use. Not safe for
// concurrent use.
type NamespaceIDs struct {
	ids  map[string]uint32
	next uint32
}

// Seed makes the ids in ids (namespace name -> id) the ones handed out
// for those names; new names get ids above the largest. Call it before
// [NamespaceIDs.ID]. Entries with id 0 or an empty name are ignored.
func (n *NamespaceIDs) Seed(ids map[string]uint32) {
	for name, id := range ids {
		if name == "" || id == steer.AnyNamespace {
			continue
		}
		if n.ids == nil {
			n.ids = map[string]uint32{}
		}
		n.ids[name] = id
		n.next = max(n.next, id)
	}
}

// All returns every namespace name -> id handed out or seeded.
func (n *NamespaceIDs) All() map[string]uint32 {
	return maps.Clone(n.ids)
}

// ID returns the id of namespace ns, allocating one on first use. The empty
// name is "any caller" and returns [steer.AnyNamespace].
func (n *NamespaceIDs) ID(ns string) uint32 {
	if ns == "" {
		return steer.AnyNamespace
	}
	if id, ok := n.ids[ns]; ok {
		return id
	}
	if n.ids == nil {
		n.ids = map[string]uint32{}
	}
	n.next++
	n.ids[ns] = n.next
	return n.next
}

// DesiredSteering returns the steering entries for listeners: for every
// IPv4 VIP, (caller namespace id, VIP, service port) -> (proxyIP, listener
// port). Listeners it cannot steer are left out and reported in the
// returned errors; when two listeners claim the same key the one with the
// smaller name wins and the other is reported.
func DesiredSteering(listeners []Listener, proxyIP netip.Addr, ids *NamespaceIDs) (map[steer.Key]steer.Target, []error) {
	sorted := slices.Clone(listeners)
	slices.SortFunc(sorted, func(a, b Listener) int { return cmp.Compare(a.Name, b.Name) })

	out := map[steer.Key]steer.Target{}
	owner := map[steer.Key]string{}
	var errs []error
	for _, l := range sorted {
		if l.Port == 0 || l.Port > 65535 {
			errs = append(errs, fmt.Errorf("skip listener %s: port %d is not a TCP port", l.Name, l.Port))
			continue
		}
		if l.ServicePort == 0 || l.ServicePort > 65535 {
			errs = append(errs, fmt.Errorf("skip listener %s: service port %d is not a TCP port", l.Name, l.ServicePort))
			continue
		}
		target := steer.Target{IP: proxyIP, Port: uint16(l.Port)}
		ns := ids.ID(l.CallerNamespace)
		for _, vip := range l.VIPs {
			vip = vip.Unmap()
			if !vip.Is4() {
				errs = append(errs, fmt.Errorf("skip VIP %s of listener %s: only IPv4 is steered", vip, l.Name))
				continue
			}
			k := steer.Key{CallerNamespace: ns, VIP: vip, Port: uint16(l.ServicePort)}
			if prev, ok := owner[k]; ok {
				errs = append(errs, fmt.Errorf("skip %s of listener %s: listener %s already steers it", k, l.Name, prev))
				continue
			}
			owner[k] = l.Name
			out[k] = target
		}
	}
	return out, errs
}

// Cgroup is one cgroup v2 directory: its path relative to the cgroup
// parent ("/"-separated) and its id.
type Cgroup struct {
	Path string
	ID   uint64
}

// DesiredCgroups maps every cgroup that is, or is below, the cgroup of a pod
// in podNamespaces (pod UID -> namespace) to that namespace's id. Pod
// cgroups are found by name, as kubelet names them: pod<uid> (cgroupfs
// driver) or *-pod<uid with _ for ->.slice (systemd driver).
func DesiredCgroups(cgroups []Cgroup, podNamespaces map[string]string, ids *NamespaceIDs) map[uint64]uint32 {
	out := map[uint64]uint32{}
	for _, cg := range cgroups {
		ns := ""
		for elem := range strings.SplitSeq(path.Clean(cg.Path), "/") {
			uid, ok := PodUIDFromCgroupName(elem)
			if !ok {
				continue
			}
			if pns, ok := podNamespaces[uid]; ok {
				ns = pns // The deepest pod cgroup wins.
			}
		}
		if ns != "" {
			out[cg.ID] = ids.ID(ns)
		}
	}
	return out
}

// PodUIDFromCgroupName returns the pod UID a kubelet-style cgroup directory
// name carries: "pod<uid>" or "<prefix>-pod<uid_with_underscores>.slice".
func PodUIDFromCgroupName(name string) (string, bool) {
	var uid string
	switch {
	case strings.HasSuffix(name, ".slice"):
		base := strings.TrimSuffix(name, ".slice")
		seg := base[strings.LastIndexByte(base, '-')+1:]
		rest, ok := strings.CutPrefix(seg, "pod")
		if !ok {
			return "", false
		}
		uid = strings.ReplaceAll(rest, "_", "-")
	case strings.HasPrefix(name, "pod"):
		uid = strings.TrimPrefix(name, "pod")
	default:
		return "", false
	}
	if uid == "" || strings.Trim(uid, "0123456789abcdefABCDEF-") != "" {
		return "", false
	}
	return uid, true
}

// Diff returns what to set and what to delete to turn have into want.
// Deletions are sorted by their fmt representation for determinism.
func Diff[K comparable, V comparable](have, want map[K]V) (set map[K]V, del []K) {
	set = map[K]V{}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			set[k] = v
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			del = append(del, k)
		}
	}
	slices.SortFunc(del, func(a, b K) int { return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return set, del
}
