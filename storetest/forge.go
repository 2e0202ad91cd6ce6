package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// ForgeApproval does what a provider with database access could: it marks
// request id active with an approval by email that carries no passkey
// assertion, and appends the request.approved record a forger would, with
// the actor type and user_id it chooses, to make the log look complete.
// Tests of signed decisions (SPEC §10.3) show no grant follows and
// `audit verify` names it.
func ForgeApproval(tb testing.TB, s lockbox.Store, id, email, actorType, userID string) *lockbox.AccessRequest {
	tb.Helper()
	ctx := context.Background()
	var out *lockbox.AccessRequest
	err := s.Update(ctx, func(tx lockbox.Tx) error {
		x, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		users, _, err := tx.UsersByEmail(ctx, email)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		end := now.Add(time.Hour)
		prev := x.Version
		x.Status, x.Version = lockbox.StatusActive, x.Version+1
		x.Approvals = append(x.Approvals, lockbox.Approval{By: email, At: now, UserID: users[0].ID})
		x.DecidedBy, x.DecidedAt, x.AccessStartsAt, x.AccessEndsAt = &email, &now, &now, &end
		x.Deadline = &end
		if err := tx.UpdateRequest(ctx, x, prev); err != nil {
			return err
		}
		out = x
		return tx.AppendAudit(ctx, &lockbox.AuditRecord{ID: "forged-" + x.ID, Time: now, Tenant: x.Tenant,
			RecordType: lockbox.RecordLockboxDecision, Operation: lockbox.OpRequestApproved, UserID: userID,
			ActorType: actorType, RequestID: x.ID, Result: lockbox.ResultSucceeded,
			AuditData: map[string]any{"reference": x.Reference, "from": "pending", "to": "active"}})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
