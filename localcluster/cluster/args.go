package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// controllers are the kube-controller-manager controllers the local cluster
// runs: what workloads, Services, namespaces and the one Node need. Storage,
// quota, autoscaling and CSR controllers are left out; initialising them
// (resource discovery, informers) costs seconds at every start.
var controllers = []string{
	"clusterrole-aggregation-controller",
	"cronjob-controller",
	"daemonset-controller",
	"deployment-controller",
	"disruption-controller",
	"endpoints-controller",
	"endpointslice-controller",
	"endpointslice-mirroring-controller",
	"garbage-collector-controller",
	"job-controller",
	"legacy-serviceaccount-token-cleaner-controller",
	"namespace-controller",
	"node-lifecycle-controller",
	"pod-garbage-collector-controller",
	"replicaset-controller",
	"replicationcontroller-controller",
	"root-ca-certificate-publisher-controller",
	"service-cidr-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"statefulset-controller",
	"taint-eviction-controller",
	"ttl-after-finished-controller",
	"ttl-controller",
}

// Args returns the command-line arguments (without argv[0]) that start
// component with the state in l. binDir is passed to gamma-localnode, which
// runs our binaries from there.
func Args(l Layout, binDir, component string) ([]string, error) {
	switch component {
	case Etcd:
		return []string{
			"--name=default",
			"--data-dir=" + l.EtcdDir(),
			"--listen-client-urls=http://127.0.0.1:2379",
			"--advertise-client-urls=http://127.0.0.1:2379",
			"--listen-peer-urls=http://127.0.0.1:2380",
			"--initial-advertise-peer-urls=http://127.0.0.1:2380",
			"--initial-cluster=default=http://127.0.0.1:2380",
			// A throwaway test cluster: durability is not worth the fsync latency.
			"--unsafe-no-fsync",
		}, nil
	case APIServer:
		return []string{
			"--etcd-servers=http://127.0.0.1:2379",
			"--bind-address=0.0.0.0",
			"--secure-port=" + strconv.Itoa(APIServerPort),
			"--advertise-address=" + AdvertiseAddress,
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--authorization-mode=Node,RBAC",
			"--allow-privileged=true",
			"--client-ca-file=" + l.PKI("ca.crt"),
			"--tls-cert-file=" + l.PKI("apiserver.crt"),
			"--tls-private-key-file=" + l.PKI("apiserver.key"),
			"--kubelet-client-certificate=" + l.PKI("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + l.PKI("apiserver-kubelet-client.key"),
			"--kubelet-preferred-address-types=InternalIP,Hostname",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + l.PKI("sa.pub"),
			"--service-account-signing-key-file=" + l.PKI("sa.key"),
			"--profiling=false",
		}, nil
	case ControllerManager:
		return append(controlLoopArgs(l, ControllerManager, 10257),
			"--allocate-node-cidrs=false",
			"--service-cluster-ip-range="+ServiceCIDR,
			"--root-ca-file="+l.PKI("ca.crt"),
			"--service-account-private-key-file="+l.PKI("sa.key"),
			// One identity (system:masters, see NewPKI) for every controller:
			// no per-controller ServiceAccount and token round trips at start.
			"--use-service-account-credentials=false",
			"--controllers="+strings.Join(controllers, ","),
			// The default 20 QPS paces a suite that creates dozens of
			// Deployments at once.
			"--kube-api-qps=100",
			"--kube-api-burst=200",
			"--cluster-signing-cert-file="+l.PKI("ca.crt"),
			"--cluster-signing-key-file="+l.PKI("ca.key"),
		), nil
	case Scheduler:
		return controlLoopArgs(l, Scheduler, 10259), nil
	case LocalNode:
		return []string{
			"run",
			"--kubeconfig", l.Kubeconfig(),
			"--state-dir", l.NodeDir(),
			"--node-name", NodeName,
			"--pod-cidr", PodCIDR,
			"--bridge", Bridge,
			"--bridge-ip", AdvertiseAddress,
			"--cluster-domain", "cluster.local",
			"--tls-cert-file", l.PKI("kubelet.crt"),
			"--tls-private-key-file", l.PKI("kubelet.key"),
			"--bin-dir", binDir,
		}, nil
	case Proxy:
		return []string{
			"--kubeconfig=" + l.ComponentKubeconfig(Proxy),
			"--proxy-mode=nftables",
			"--hostname-override=" + NodeName,
			"--cluster-cidr=" + PodCIDR,
			"--metrics-bind-address=127.0.0.1:10249",
			"--healthz-bind-address=127.0.0.1:10256",
			// Leave the host's conntrack sysctls alone.
			"--conntrack-max-per-core=0",
		}, nil
	}
	return nil, fmt.Errorf("unknown component %q (known: %v)", component, Components)
}

// controlLoopArgs are the arguments kube-controller-manager and
// kube-scheduler (component) share: its kubeconfig, for the API server and
// for checking the requests to its own secure port (on localhost at port);
// no leader election (one replica) and no profiling.
func controlLoopArgs(l Layout, component string, port int) []string {
	kc := l.ComponentKubeconfig(component)
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--leader-elect=false",
		"--profiling=false",
	}
}
