package fault

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

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
	in, err := controller.ListInput(ctx, s.reader, s.policy)
	if err != nil {
		return fmt.Errorf("inject fault %s: %w", s.inj.Name(), err)
	}
	return s.next.Update(ctx, s.inj.Mesh(in))
}
