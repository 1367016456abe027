package node

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/bpf/steer"
)

var (
	proxyIP = netip.MustParseAddr("198.18.0.1")
	vipA    = netip.MustParseAddr("198.19.0.10")
	vipB    = netip.MustParseAddr("198.19.0.11")
)

func key(ns uint32, vip netip.Addr, port uint16) steer.Key {
	return steer.Key{CallerNamespace: ns, VIP: vip, Port: port}
}

func to(port uint16) steer.Target { return steer.Target{IP: proxyIP, Port: port} }

func TestDesiredSteering(t *testing.T) {
	tests := []struct {
		name      string
		nsFirst   []string // namespaces allocated before, fixing their ids
		listeners []Listener
		want      map[steer.Key]steer.Target
		wantErrs  []string
	}{
		{
			name: "producer listener steers every caller",
			listeners: []Listener{
				{Name: "mesh~team-a~bookstore~8080", Port: 15001, VIPs: []netip.Addr{vipA}, ServicePort: 8080},
			},
			want: map[steer.Key]steer.Target{key(0, vipA, 8080): to(15001)},
		},
		{
			name:    "consumer listener is keyed by caller namespace",
			nsFirst: []string{"team-b"},
			listeners: []Listener{
				{Name: "mesh~team-a~bookstore~8080", Port: 15001, VIPs: []netip.Addr{vipA}, ServicePort: 8080},
				{Name: "mesh~team-a~bookstore~8080~from~team-b", Port: 15002, VIPs: []netip.Addr{vipA}, ServicePort: 8080, CallerNamespace: "team-b"},
			},
			want: map[steer.Key]steer.Target{key(0, vipA, 8080): to(15001), key(1, vipA, 8080): to(15002)},
		},
		{
			name: "every VIP of a dual-VIP Service, IPv6 skipped",
			listeners: []Listener{
				{Name: "l", Port: 15003, VIPs: []netip.Addr{vipA, vipB, netip.MustParseAddr("fd00::10")}, ServicePort: 80},
			},
			want:     map[steer.Key]steer.Target{key(0, vipA, 80): to(15003), key(0, vipB, 80): to(15003)},
			wantErrs: []string{"skip VIP fd00::10 of listener l: only IPv4 is steered"},
		},
		{
			name: "IPv4-mapped VIP is unmapped",
			listeners: []Listener{
				{Name: "l", Port: 15003, VIPs: []netip.Addr{netip.AddrFrom16(vipA.As16())}, ServicePort: 80},
			},
			want: map[steer.Key]steer.Target{key(0, vipA, 80): to(15003)},
		},
		{
			name: "conflict: smaller name wins whatever the input order",
			listeners: []Listener{
				{Name: "z", Port: 15009, VIPs: []netip.Addr{vipA}, ServicePort: 80},
				{Name: "a", Port: 15001, VIPs: []netip.Addr{vipA}, ServicePort: 80},
			},
			want:     map[steer.Key]steer.Target{key(0, vipA, 80): to(15001)},
			wantErrs: []string{"skip ns0/198.19.0.10:80 of listener z: listener a already steers it"},
		},
		{
			name: "bad ports are reported, not steered",
			listeners: []Listener{
				{Name: "p0", Port: 0, VIPs: []netip.Addr{vipA}, ServicePort: 80},
				{Name: "p1", Port: 70000, VIPs: []netip.Addr{vipA}, ServicePort: 80},
				{Name: "s0", Port: 15001, VIPs: []netip.Addr{vipA}, ServicePort: 0},
			},
			want: map[steer.Key]steer.Target{},
			wantErrs: []string{
				"skip listener p0: port 0 is not a TCP port",
				"skip listener p1: port 70000 is not a TCP port",
				"skip listener s0: service port 0 is not a TCP port",
			},
		},
		{name: "no listeners", want: map[steer.Key]steer.Target{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ids NamespaceIDs
			for _, ns := range tc.nsFirst {
				ids.ID(ns)
			}
			got, errs := DesiredSteering(tc.listeners, proxyIP, &ids)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries:\n got %v\nwant %v", got, tc.want)
			}
			var gotErrs []string
			for _, e := range errs {
				gotErrs = append(gotErrs, e.Error())
			}
			if !reflect.DeepEqual(gotErrs, tc.wantErrs) {
				t.Errorf("errors:\n got %q\nwant %q", gotErrs, tc.wantErrs)
			}
		})
	}
}

func TestNamespaceIDs(t *testing.T) {
	var ids NamespaceIDs
	got := []uint32{ids.ID("a"), ids.ID("b"), ids.ID("a"), ids.ID(""), ids.ID("c")}
	want := []uint32{1, 2, 1, steer.AnyNamespace, 3}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestNamespaceIDsSeed(t *testing.T) {
	tests := []struct {
		name string
		seed map[string]uint32
		ask  []string
		want []uint32
	}{
		{"nothing seeded", nil, []string{"a", "b"}, []uint32{1, 2}},
		{"seeded ids kept, new ones above the largest", map[string]uint32{"b": 7, "a": 3}, []string{"a", "c", "b", "d"}, []uint32{3, 8, 7, 9}},
		{"id 0 and empty names ignored", map[string]uint32{"x": 0, "": 4}, []string{"x", ""}, []uint32{1, steer.AnyNamespace}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ids NamespaceIDs
			ids.Seed(tc.seed)
			var got []uint32
			for _, n := range tc.ask {
				got = append(got, ids.ID(n))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			all := ids.All()
			for i, n := range tc.ask {
				if n != "" && all[n] != tc.want[i] {
					t.Errorf("All()[%q] = %d, want %d", n, all[n], tc.want[i])
				}
			}
		})
	}
}

func TestPodUIDFromCgroupName(t *testing.T) {
	const uid = "3f1a2b4c-0d9e-4f8a-b7c6-5d4e3f2a1b0c"
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"pod" + uid, uid, true},
		{"kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice", uid, true},
		{"kubelet-kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice", uid, true},
		{"kubepods-burstable.slice", "", false},
		{"kubepods.slice", "", false},
		{"cri-containerd-0123abcd.scope", "", false},
		{"pod", "", false},
		{"pods", "", false},
		{"podman", "", false},
		{"besteffort", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PodUIDFromCgroupName(tc.name)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDesiredCgroups(t *testing.T) {
	const (
		uidA = "aaaaaaaa-0000-0000-0000-000000000001"
		uidB = "bbbbbbbb-0000-0000-0000-000000000002"
		uidX = "cccccccc-0000-0000-0000-000000000003" // on another node or gone
	)
	sysd := func(uid string) string {
		return "kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
	}
	tests := []struct {
		name    string
		cgroups []Cgroup
		pods    map[string]string
		want    map[uint64]uint32
	}{
		{
			name: "cgroupfs layout, containers included",
			cgroups: []Cgroup{
				{".", 1}, {"besteffort", 2},
				{"besteffort/pod" + uidA, 10}, {"besteffort/pod" + uidA + "/ctr1", 11}, {"besteffort/pod" + uidA + "/ctr2", 12},
				{"pod" + uidB, 20}, {"pod" + uidB + "/sandbox", 21},
				{"pod" + uidX, 30},
			},
			pods: map[string]string{uidA: "team-a", uidB: "team-b"},
			want: map[uint64]uint32{10: 1, 11: 1, 12: 1, 20: 2, 21: 2},
		},
		{
			name: "systemd layout on kind",
			cgroups: []Cgroup{
				{"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice", 2},
				{"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/" + sysd(uidA), 10},
				{"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/" + sysd(uidA) + "/cri-containerd-abc.scope", 11},
			},
			pods: map[string]string{uidA: "team-a"},
			want: map[uint64]uint32{10: 1, 11: 1},
		},
		{
			name:    "no pods on the node",
			cgroups: []Cgroup{{"pod" + uidA, 10}},
			want:    map[uint64]uint32{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ids NamespaceIDs
			ids.ID("team-a")
			ids.ID("team-b")
			got := DesiredCgroups(tc.cgroups, tc.pods, &ids)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name       string
		have, want map[string]int
		set        map[string]int
		del        []string
	}{
		{"empty", map[string]int{}, map[string]int{}, map[string]int{}, nil},
		{"add", map[string]int{}, map[string]int{"a": 1}, map[string]int{"a": 1}, nil},
		{"change and delete", map[string]int{"a": 1, "c": 3, "b": 2}, map[string]int{"a": 9}, map[string]int{"a": 9}, []string{"b", "c"}},
		{"equal", map[string]int{"a": 1}, map[string]int{"a": 1}, map[string]int{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, del := Diff(tc.have, tc.want)
			if fmt.Sprint(set) != fmt.Sprint(tc.set) || !reflect.DeepEqual(del, tc.del) {
				t.Fatalf("got set %v del %v; want set %v del %v", set, del, tc.set, tc.del)
			}
		})
	}
}
