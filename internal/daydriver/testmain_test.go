package main

import (
	"testing"

	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// TestMain reports the PostgreSQL tests that skipped (pgtest.Main) and
// drops the schema templates they made.
func TestMain(m *testing.M) { pgtest.Main(m, postgres.Open) }
