package postgres_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestWritersFollowReplicas: a Store left to choose runs three write
// groups at once while it is the only replica of its database and schema,
// and one while another shares them (a Store counts after its writes,
// CountReplicas here counts at once); a replica of another schema is not
// one of its own, a Store told a number keeps it, and one whose DSN names
// its connections itself, or a command-line tool's, can be neither seen
// nor see.
func TestWritersFollowReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	a := mustOpen(t, dsn)
	if !strings.HasPrefix(a.ConnName(), "lockbox/") {
		t.Errorf("connections named %q, want lockbox/<schema>/<instance>", a.ConnName())
	}
	a.CountReplicas()
	if got := a.WritersAtOnce(); got != 3 {
		t.Fatalf("alone: %d write groups at once, want 3", got)
	}
	other := mustOpen(t, pgtestSchema(t)) // another schema
	other.CountReplicas()
	a.CountReplicas()
	if got, gotOther := a.WritersAtOnce(), other.WritersAtOnce(); got != 3 || gotOther != 3 {
		t.Errorf("with a store of another schema: %d and %d write groups at once, want 3 and 3", got, gotOther)
	}

	logged := &lockboxtest.SyncBuffer{}
	b, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{Logger: slog.New(slog.NewTextHandler(logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// b counts by itself after its first write group.
	storetest.MustAppendAudit(t, b, storetest.NewAuditRecord("contoso", "first"))
	for deadline := time.Now().Add(10 * time.Second); b.WritersAtOnce() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a replica's first write did not make it count the others: %d write groups at once", b.WritersAtOnce())
		}
	}
	a.CountReplicas()
	if got, gotB := a.WritersAtOnce(), b.WritersAtOnce(); got != 1 || gotB != 1 {
		t.Errorf("two replicas: %d and %d write groups at once, want 1 each", got, gotB)
	}
	// Logged just after the change, by the goroutine that counted.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logged.String(),
		`msg="postgres: write groups this replica runs at once" writers=1 other_replicas=1`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replica's log = %q, want the change of its writers", logged.String())
		}
	}
	fixed, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{Writers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Close()
	fixed.CountReplicas()
	a.CountReplicas()
	if got, gotFixed := a.WritersAtOnce(), fixed.WritersAtOnce(); got != 1 || gotFixed != 2 {
		t.Errorf("with a store told 2 writers: %d and %d write groups at once, want 1 and 2", got, gotFixed)
	}

	// b and the fixed store leave: a is alone again once their sessions
	// have ended on the server.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	fixed.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a.CountReplicas()
		if a.WritersAtOnce() == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alone again: %d write groups at once, want 3", a.WritersAtOnce())
		}
	}

	named, err := postgres.Open(t.Context(), pgtest.WithParam(t, dsn, "application_name", "mine"))
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	named.CountReplicas()
	a.CountReplicas()
	if got, gotNamed := a.WritersAtOnce(), named.WritersAtOnce(); got != 3 || gotNamed != 3 {
		t.Errorf("with a store that names its own connections: %d and %d write groups at once, want 3 and 3", got, gotNamed)
	}
	tool, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{Tool: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	storetest.MustAppendAudit(t, tool, storetest.NewAuditRecord("contoso", "by-a-tool"))
	tool.CountReplicas()
	a.CountReplicas()
	if got, gotTool := a.WritersAtOnce(), tool.WritersAtOnce(); got != 3 || gotTool != 3 || tool.ConnName() != "" {
		t.Errorf("with a command-line tool's store: %d and %d write groups at once (its connections %q), want 3 and 3, not a replica's name",
			got, gotTool, tool.ConnName())
	}
}
