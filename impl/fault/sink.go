package fault

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/impl/controller"
	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// Sink passes the faulty mesh to the next sink instead of the one it is
// given. It lists the cluster state itself (from the controller's cache)
// because input faults need what Build leaves out.
type Sink struct {
	next   controller.MeshSink
	reader client.Reader
	policy grantpolicy.Policy
	inj    *Injector
}

// NewSink returns a sink that builds the meshes it passes to next with inj
// from what reader lists, under policy.
func NewSink(next controller.MeshSink, reader client.Reader, policy grantpolicy.Policy, inj *Injector) *Sink {
	return &Sink{next: next, reader: reader, policy: policy, inj: inj}
}

// Update ignores the correct mesh: it lists the input again, builds the
// faulty mesh and updates the next sink with it.
func (s *Sink) Update(ctx context.Context, _ *model.Mesh) error {
	in, err := List(ctx, s.reader, s.policy)
	if err != nil {
		return fmt.Errorf("inject fault %s: %w", s.inj.Name(), err)
	}
	return s.next.Update(ctx, s.inj.Mesh(in))
}

// List reads a model input from r, as the controller does.
func List(ctx context.Context, r client.Reader, policy grantpolicy.Policy) (model.Input, error) {
	in := model.Input{GrantPolicy: policy}
	var (
		svcs   corev1.ServiceList
		eps    discoveryv1.EndpointSliceList
		hrs    gwv1.HTTPRouteList
		grs    gwv1.GRPCRouteList
		grants gwv1beta1.ReferenceGrantList
		nss    corev1.NamespaceList
	)
	for _, l := range []client.ObjectList{&svcs, &eps, &hrs, &grs, &grants, &nss} {
		if err := r.List(ctx, l); err != nil {
			return in, fmt.Errorf("list %T: %w", l, err)
		}
	}
	in.Services, in.EndpointSlices, in.HTTPRoutes, in.GRPCRoutes = svcs.Items, eps.Items, hrs.Items, grs.Items
	in.ReferenceGrants, in.Namespaces = grants.Items, nss.Items
	return in, nil
}
