// Package schema is what the sqlite and postgres stores share of their
// embedded goose migrations: the rule that a binary refuses a database
// whose schema is newer than it knows.
//
// It imports only goose and the standard library. Each store reads the
// database's version itself, so that it classifies a failure to read it
// its own way (postgres marks connection failures EUNAVAILABLE).
package schema

import (
	"fmt"

	"github.com/pressly/goose/v3"
)

// Newest is the schema version the migrations of p create.
func Newest(p *goose.Provider) int64 {
	sources := p.ListSources()
	return sources[len(sources)-1].Version // goose.NewProvider fails when there are none
}

// RefuseNewer returns an error when current, a database's schema version,
// is newer than the newest migration of p: goose would find nothing to do
// and let this binary run on a schema it does not understand, and maybe
// damage data a newer binary wrote.
func RefuseNewer(p *goose.Provider, current int64) error {
	if known := Newest(p); current > known {
		return fmt.Errorf("database schema version %d is newer than this lockbox binary supports (%d); upgrade lockbox", current, known)
	}
	return nil
}
