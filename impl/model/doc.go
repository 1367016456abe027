// Package model turns Kubernetes Services, EndpointSlices and mesh-bound
// HTTPRoutes/GRPCRoutes into a deterministic mesh: who calls which
// Service:port gets which route table (GEP-1294), plus route status.
package model
