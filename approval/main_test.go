package approval_test

import (
	"testing"

	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// TestMain drops the migrated template that pgtest.Migrated copies (with
// LOCKBOX_TEST_STORE=postgres).
func TestMain(m *testing.M) { pgtest.Main(m, postgres.Open) }
