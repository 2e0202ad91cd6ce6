// Package benchflow is the request workflow the throughput benchmarks
// drive (cmd/lockbox's BenchmarkWorkflow, internal/replicabench), so that
// their figures measure the same four steps.
package benchflow

import (
	"context"
	"fmt"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
)

// The dev seed's operator and support manager (approval/seed.go), who file
// and review requests to any tenant.
const (
	Operator = "operator@provider.test"
	Manager  = "manager@provider.test"
)

// Workflow files one request to tenant and takes it to completion: create
// (the operator), review_approve (the support manager), approve
// (approver), complete (the operator) — four committed writes, each with
// its audit record. Step k (0 to 3) is sent through as(k, email), so a
// caller may spread the steps over replicas. serviceRequest must be
// unique per request.
func Workflow(ctx context.Context, as func(k int, email string) *client.Client, tenant, approver, serviceRequest string) error {
	r, err := as(0, Operator).CreateRequest(ctx, lockbox.NewRequest{Tenant: tenant, Service: "exchange",
		ServiceRequest: serviceRequest, Reason: "Benchmark.", Operations: []string{"Get-Mailbox"}, DurationMinutes: 60})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	for k, step := range []struct {
		who string
		ev  lockbox.Event
	}{
		{Manager, lockbox.EventReviewApprove},
		{approver, lockbox.EventApprove},
		{Operator, lockbox.EventComplete},
	} {
		if _, err := as(k+1, step.who).Act(ctx, r.ID, step.ev, lockbox.Decision{}); err != nil {
			return fmt.Errorf("%s: %w", step.ev, err)
		}
	}
	return nil
}
