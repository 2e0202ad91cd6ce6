package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Migrating every test's schema from scratch runs each migration in its
// own transaction, and at hundreds of conformance cases that was most of
// the PostgreSQL tests' time. So a test binary migrates one template
// schema with the store's own migrations (whatever they are when it
// runs) and every Migrated schema is a copy of it, made in one
// transaction: tables, their data (goose's version rows), identity
// sequences, constraints and indexes under their own names. The first copy
// of each template is compared with it, catalog and rows, so a migration
// that creates something the copy does not know (a view, a trigger, a
// function) fails loudly instead of handing tests a different schema.
//
// Measured on the CI machine (PostgreSQL 15, 2 cores), per test: a fresh
// schema migrated by the store ≈ 210 ms; a copy of the template ≈ 80 ms
// (plus the store's own no-op migration check on open); CREATE DATABASE …
// TEMPLATE ≈ 80 ms with FILE_COPY (which forces a checkpoint of the whole
// server, other tests' work included) and ≈ 110 ms plus a far slower drop
// with WAL_LOG.

// state is what Main set up for the test binary.
var state struct {
	mu        sync.Mutex
	open      func(ctx context.Context, dsn string) error // migrates, set by Main
	templates map[string]*template                        // by server DSN
}

// template is a migrated schema that Migrated copies.
type template struct {
	schema      string
	script      string // builds a copy in the current search_path
	fingerprint string // what a copy must look like
	checked     bool   // a copy was compared with the template
}

// Main runs a test binary's tests and then drops the templates Migrated
// made. Call it from TestMain in every package that uses Migrated, with
// the function that opens (and so migrates) a store, postgres.Open:
//
//	func TestMain(m *testing.M) { pgtest.Main(m, postgres.Open) }
//
// A package that never reaches Migrated needs no database for it.
func Main[S io.Closer](m *testing.M, open func(context.Context, string) (S, error)) {
	state.mu.Lock()
	state.open = func(ctx context.Context, dsn string) error {
		s, err := open(ctx, dsn)
		if err != nil {
			return err
		}
		return s.Close()
	}
	state.mu.Unlock()
	code := m.Run()
	// One visible line, also without -v, so nobody mistakes a green run
	// for one that tested PostgreSQL.
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "pgtest: %d PostgreSQL test(s) skipped; to run them: %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable\n", n, EnvDSN)
	}
	if err := dropTemplates(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// dropTemplates drops every template.
func dropTemplates() error {
	state.mu.Lock()
	defer state.mu.Unlock()
	var errs []error
	for dsn, tp := range state.templates {
		if err := ExecOnce(context.Background(), dsn, `DROP SCHEMA `+tp.schema+` CASCADE`); err != nil {
			errs = append(errs, fmt.Errorf("drop template %s: %w", tp.schema, err))
		}
	}
	state.templates = nil
	return errors.Join(errs...)
}

// Migrated creates a schema at the newest migration on the server of dsn
// (a copy of the test binary's template), drops it when the test ends,
// and returns dsn with search_path set to it, as Schema does.
func Migrated(tb testing.TB, dsn string) string {
	tb.Helper()
	tp := templateFor(tb, dsn)
	name := "lbtest_" + strings.ToLower(rand.Text()[:16])
	if err := tp.copyTo(dsn, name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() { dropSchema(tb, dsn, name) })
	out := WithParam(tb, dsn, "search_path", name)
	if err := tp.checkOnce(out); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return out
}

// copyTo creates schema name as a copy of tp on the server of dsn.
func (tp *template) copyTo(dsn, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One round trip, one commit, and no wait for the WAL flush: a test
	// schema need not survive a crash of the server.
	err := ExecOnce(ctx, dsn, `BEGIN; SET LOCAL synchronous_commit = off; CREATE SCHEMA `+name+
		`; SET LOCAL search_path = `+name+`; `+tp.script+` COMMIT`)
	if err != nil {
		return fmt.Errorf("copy template %s: %w", tp.schema, err)
	}
	return nil
}

// checkOnce compares the first copy of tp, in the search_path of
// copyDSN, with tp: every copy is made by the same statements.
func (tp *template) checkOnce(copyDSN string) error {
	state.mu.Lock()
	defer state.mu.Unlock()
	if tp.checked {
		return nil
	}
	got, err := fingerprint(context.Background(), copyDSN)
	if err != nil {
		return err
	}
	if got != tp.fingerprint {
		return fmt.Errorf("a copy of the migrated template differs from it, so the migrations create something "+
			"pgtest's copy does not know (see catalog.go); lines only in the template (-) or the copy (+):\n%s",
			diffLines(tp.fingerprint, got))
	}
	tp.checked = true
	return nil
}

func dropSchema(tb testing.TB, dsn, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := ExecOnce(ctx, dsn, `BEGIN; SET LOCAL synchronous_commit = off; DROP SCHEMA `+name+` CASCADE; COMMIT`)
	if err != nil {
		tb.Errorf("pgtest: drop schema %s: %v", name, err)
	}
}

// templateFor returns the template on the server of dsn, migrating it on
// first use.
func templateFor(tb testing.TB, dsn string) *template {
	tb.Helper()
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.open == nil {
		tb.Fatal("pgtest: Migrated needs pgtest.Main: add func TestMain(m *testing.M) { pgtest.Main(m, postgres.Open) }")
	}
	if tp := state.templates[dsn]; tp != nil {
		return tp
	}
	tp, err := newTemplate(dsn, state.open)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	if state.templates == nil {
		state.templates = map[string]*template{}
	}
	state.templates[dsn] = tp
	return tp
}

// newTemplate migrates a new schema with open and reads how to copy it.
func newTemplate(dsn string, open func(context.Context, string) error) (*template, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tp := &template{schema: "lbtemplate_" + strings.ToLower(rand.Text()[:16])}
	if err := ExecOnce(ctx, dsn, `CREATE SCHEMA `+tp.schema); err != nil {
		return nil, fmt.Errorf("create template: %w", err)
	}
	tdsn, err := SetParam(dsn, "search_path", tp.schema)
	if err == nil {
		err = open(ctx, tdsn)
	}
	if err == nil {
		tp.script, err = copyScript(ctx, tdsn)
	}
	if err == nil {
		tp.fingerprint, err = fingerprint(ctx, tdsn)
	}
	if err != nil {
		ExecOnce(ctx, dsn, `DROP SCHEMA `+tp.schema+` CASCADE`)
		return nil, fmt.Errorf("template %s: %w", tp.schema, err)
	}
	return tp, nil
}

// ExecOnce runs statements on a connection of its own. It keeps no pool
// between calls: a test inside a testing/synctest bubble may be the one
// that calls, and what a bubble creates must not outlive it.
func ExecOnce(ctx context.Context, dsn, query string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, query)
	return err
}
