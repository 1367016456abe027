// Package config turns the supported subset of Envoy xDS resources into the proxy's route tables, strictly.
package config
