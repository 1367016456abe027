package xds

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// Listener ports are allocated in [ListenerPortMin, ListenerPortMax]: inside
// the contract's 15001–32000, but below 30000 so a listener never shadows a
// NodePort (default range 30000–32767) on a hostNetwork proxy, and below the
// Linux ephemeral range (32768+).
const (
	ListenerPortMin = 15001
	ListenerPortMax = 29999
)

// reservedPorts are never allocated to listeners.
var reservedPorts = map[uint32]bool{
	15010: true, // the controller's xDS server (--xds-address=:15010).
}

// InvalidClusterPrefix starts the name of a weighted cluster entry that
// stands for an invalid backend. No such cluster is in the snapshot, so the
// route's cluster_not_found_response_code (500) answers that share.
const InvalidClusterPrefix = "invalid~"

// InvalidClusterName is the cluster name for the i-th backend of a route,
// invalid for reason (e.g. "RefNotPermitted").
func InvalidClusterName(reason string, i int) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return -1
	}, reason)
	if clean == "" {
		clean = "Invalid"
	}
	return InvalidClusterPrefix + clean + "~" + strconv.Itoa(i)
}

// AllocatePorts gives every listener name a port in [ListenerPortMin,
// ListenerPortMax]: the FNV-1a hash of the name picks a slot, and names take
// their slots in sorted order, probing linearly past taken ones. The result
// depends only on the set of names, so the same mesh always gets the same
// ports, and a name keeps its port unless a new name sorting before it takes
// its slot. It returns an error when there are more names than ports.
func AllocatePorts(names []string) (map[string]uint32, error) {
	n := uint32(ListenerPortMax - ListenerPortMin + 1)
	free := int(n)
	for p := range reservedPorts {
		if p >= ListenerPortMin && p <= ListenerPortMax {
			free--
		}
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	if len(sorted) > free {
		return nil, fmt.Errorf("allocate listener ports: %d listeners but only %d ports in %d-%d; reduce the number of steered Service ports", len(sorted), free, ListenerPortMin, ListenerPortMax)
	}
	used := make([]bool, n)
	for p := range reservedPorts {
		if p >= ListenerPortMin && p <= ListenerPortMax {
			used[p-ListenerPortMin] = true
		}
	}
	ports := make(map[string]uint32, len(sorted))
	for _, name := range sorted {
		h := fnv.New32a()
		h.Write([]byte(name)) // hash.Hash.Write never returns an error.
		slot := h.Sum32() % n
		for used[slot] {
			slot = (slot + 1) % n
		}
		used[slot] = true
		ports[name] = ListenerPortMin + slot
	}
	return ports, nil
}
