package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lockboxhq/lockbox"
)

// newRecord starts an audit record for actor u at now in log.
func newRecord(ctx context.Context, u *lockbox.User, log, recordType, op string, now time.Time) *lockbox.AuditRecord {
	return &lockbox.AuditRecord{
		ID:         newID(),
		Time:       now,
		Tenant:     log,
		RecordType: recordType,
		Operation:  op,
		UserID:     u.Email,
		ActorType:  actorType(u),
		ClientIP:   lockbox.ClientIPFromContext(ctx),
		Result:     lockbox.ResultSucceeded,
		AuditData:  map[string]any{},
	}
}

func actorType(u *lockbox.User) string {
	switch {
	case u == lockbox.System:
		return lockbox.ActorSystem
	case u.IsPolicy():
		return lockbox.ActorPolicy
	case u.Tenant != "":
		return lockbox.ActorTenantUser
	case u.ServiceAccount:
		return lockbox.ActorServiceAccount
	default:
		return lockbox.ActorProviderStaff
	}
}

func appendAudit(ctx context.Context, tx lockbox.Tx, rec *lockbox.AuditRecord) error {
	if err := tx.AppendAudit(ctx, rec); err != nil {
		return fmt.Errorf("append audit %s: %w", rec.Operation, err)
	}
	return nil
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does.
		panic(fmt.Sprintf("uuid: %v", err))
	}
	return id.String()
}

// plainJSON is v as the plain maps, lists and numbers a record's data
// reads back as: encoding/json sorts a map's keys but keeps a struct's
// field order, and a record must encode the same before and after a
// round trip through its canonical bytes.
func plainJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
