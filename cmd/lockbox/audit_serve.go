package main

import "github.com/lockboxhq/lockbox/auditlog"

// auditService is the audit log as the server serves it: checkpoints signed
// with the key ring's active log key, whose verifier key GET /v1/log/key
// publishes.
func (rs *runningServer) auditService(cfg serverConfig) *auditlog.Service {
	ring := rs.keys.ring
	return auditlog.New(rs.store, ring.LogSigner(), ring.LogVerifierKey(), cfg.LogOrigin)
}
