// Package controllername holds the controllerName gammaproof's mesh
// controller writes into route status, which the suite looks for when it
// judges gammaproof.
package controllername

// Gammaproof is the controllerName of gammaproof's mesh controller in
// status.parents[] of the routes it serves.
const Gammaproof = "gammaproof.io/mesh-controller"
