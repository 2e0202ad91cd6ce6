package server_test

import (
	"testing"

	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// TestMain drops the migrated template that pgtest.Migrated copies for the
// strict-input tests on PostgreSQL (strict_test.go).
func TestMain(m *testing.M) { pgtest.Main(m, postgres.Open) }
