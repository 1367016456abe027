// Package controller watches Services, EndpointSlices, mesh-bound routes and
// ReferenceGrants, builds the mesh with impl/model, hands it to a MeshSink
// and writes the routes' status.parents for their Service parents.
package controller
