// Package xdscontract is the contract between gammaproof's controller and its node proxy: which xDS resources and fields carry what, encoded on one side and decoded on the other.
package xdscontract
