// Package adsclient is a State-of-the-World Aggregated Discovery Service client with ACK/NACK and reconnects.
package adsclient
