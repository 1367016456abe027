// Package sample is the sampling protocol between the suite and client pods:
// the JSON types of the client's HTTP API, the echo backend's reply, backend
// attribution and the [Sampler] interface. Package podproxy implements
// Sampler for the suite through the API server's pod proxy; package client
// is the client itself, package echo the echo backend. This package imports
// no Kubernetes code, so the client and echo images stay small.
//
// # Client API
//
// A client pod (cmd/gamma-client, image gammaproof/client, started as
// "gamma-client serve --port 8081") serves:
//
//	GET  /healthz  200 "ok" while the client serves.
//	POST /sample   body: a [Request] as JSON; reply: a [Result] as JSON.
//
// POST /sample sends Request.Count requests to Request.URL with at most
// Request.Concurrency in flight, and answers when all are done. A bad
// request (unknown field, bad URL, count out of range) gets 400 with a
// one-line text error; if the caller goes away the batch stops (503).
// Example:
//
//	{"url": "http://bookstore.store:8080/books", "count": 100, "concurrency": 4,
//	 "headers": {"x-user": "a"}, "timeout": "2s", "recordHeaders": ["x-route"],
//	 "recordEcho": ["path", "header:x-added"]}
//
// returns
//
//	{"requests": 100, "byBackend": {"v1": 91, "v2": 9}, "byPod": {...},
//	 "unattributed": 0, "byStatus": {"200": 100}, "errors": {},
//	 "latency": {"p50": 1.2, "p90": 2.0, "p99": 3.1, "max": 3.4},
//	 "headers": {"x-route": {"a": 100}},
//	 "echo": {"path": {"/books": 100}, "header:x-added": {"(absent)": 100}},
//	 "durationMs": 140}
//
// Attribution: every answer (whatever its status) is attributed from its
// body to a backend — the echo backend's JSON "version", else its "pod", or
// "vN" for a plain-text "Response from vN" as the seed's bookstore answers.
// Answers naming no backend count as "unattributed". gRPC answers are
// attributed from the x-echo-version (else x-echo-pod) header metadata and
// counted in byStatus by code name ("OK", "Unavailable").
//
// Errors: requests that got no answer are counted by [ErrorKind]
// ("timeout", "connection refused", "reset", "eof", "unreachable", "dns",
// "other"), with one example message per kind in errorExamples. Latency
// covers answered requests only, nearest-rank quantiles in milliseconds;
// with "recordLatencies": true the reply's "latencies" lists every answered
// request's latency in milliseconds, in the order the requests were due.
// Redirects are answers, never followed.
//
// Batches: a suite calls /sample repeatedly with Count set to the batch
// size, so a sequential test can stop as soon as it has decided; use
// [Result.Merge] to add batches up. Keep-alive connections persist between
// batches unless newConnectionPerRequest is set.
//
// [RequestID] ("{id}") in the URL or a header value is replaced by an id
// unique to each request.
//
// # Echo backend
//
// The echo backend (cmd/gamma-echo, image gammaproof/echo) answers every
// path with an [Echo] as JSON (fields pod, namespace, version, service,
// method, path, host, query, headers, proto) and the headers X-Echo-Version
// and X-Echo-Pod, over HTTP/1.1, h2c (prior knowledge) and gRPC on one port.
// Its gRPC service is the Gateway API conformance echo service
// (gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, methods Echo and
// EchoTwo; EchoThree is unimplemented), so upstream GRPCRoute tests can use
// it too. Query parameters, or request headers (gRPC: metadata), shape the
// answer:
//
//	delay=200ms    X-Echo-Delay        wait this long first (at most 5m)
//	status=503     X-Echo-Status       answer with this HTTP status
//	grpc-status=14 X-Echo-Grpc-Status  answer gRPC calls with this code
//	fail=2         X-Echo-Fail         fail the first 2 requests of a key with
//	key=K          X-Echo-Key          the status (default 503; gRPC: Unavailable),
//	                                   then answer normally; the key defaults to
//	                                   method and path. Counts are per backend pod.
//
// GET /readyz is reserved for readiness (503 once shutdown starts). With
// --plain the backend answers "Response from <version>" in plain text.
package sample
