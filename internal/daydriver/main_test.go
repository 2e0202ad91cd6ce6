package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// TestShortDay replays a few seconds of a day on two replicas (every
// ending but "access ended", which waits a real minute), every tenant with
// a webhook endpoint, the busiest's slow. Every call must succeed, and the
// slow receiver and the others must get deliveries (the others are two
// tenants, so that the day's random draw leaves neither group out), so the
// driver keeps working as the product changes (issue 12's one-time
// passwords once made every call of the day fail, unnoticed). It needs
// PostgreSQL and builds lockbox.
func TestShortDay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lockbox and starts two replicas")
	}
	dsn := pgtest.DSN(t)
	var out strings.Builder
	c := config{postgres: dsn, replicas: 2, duration: 4 * time.Second, rate: 6, tenants: 3, operators: 2, actions: 3, seed: 1, noWaits: true,
		webhooks: 3, slowWebhook: 100 * time.Millisecond}
	if err := run(t.Context(), c, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, row := range []string{"| create |", "| slow |", "| others |"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("the report has no %s row:\n%s", row, out.String())
		}
	}
}
