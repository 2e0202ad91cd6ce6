package benchdb

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// TestExportReadsEachPageOnce is the CSV export's slow mode, found by the
// export benchmark (docs/benchmarks.md): a plain scan of a log on one
// connection, then an export through the store's readers, then a scan,
// three times. SQLite's page caches are one group for every connection of
// the process (sqlite/auditlog.go, starvedCaches), and a connection could
// be left caching nothing: it read the table from its root for every row,
// three read system calls a row where reading each leaf page once is
// about one for four rows. Now every export reads as the first. Without
// the store's fix it failed 4 runs of 4. The reads are the process's
// (/proc/self/io), so this test runs alone in its package.
func TestExportReadsEachPageOnce(t *testing.T) {
	if raceDetector {
		// 75 s under the race detector against 5 s without it; .ci/run
		// runs it without.
		t.Skip("skipped under -race (slow there); run: go test -run TestExportReadsEachPageOnce ./auditlog/internal/benchdb")
	}
	if _, err := os.Stat("/proc/self/io"); err != nil {
		t.Skip("needs Linux's /proc/self/io to count read system calls")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "export.db")
	d := Open(ctx, path)
	t.Cleanup(func() { d.Store.Close() })
	const records = 100_000
	l := NewLoader(path)
	l.Load("contoso", records)
	l.Close()

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	scan := func() {
		rows, err := db.QueryContext(ctx, `SELECT idx, canonical FROM audit_records WHERE log = 'contoso' ORDER BY time DESC, idx DESC`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	export := func(round string) {
		before := readCalls(t)
		w := &CountWriter{}
		err := auditlog.ExportCSV(lockbox.NewContextWithUser(ctx, lockbox.System), d.Audit, "contoso", lockbox.AuditFilter{},
			func(string, string) io.Writer { return w })
		if err != nil {
			t.Fatal(err)
		}
		perRow := float64(readCalls(t)-before) / records
		t.Logf("%s export: %.2f read system calls a row", round, perRow)
		if perRow > 1 {
			t.Errorf("%s export made %.2f read system calls a row: a connection's page cache kept nothing", round, perRow)
		}
	}
	for _, round := range []string{"first", "second", "third"} {
		scan()
		export(round)
		scan()
	}
}

// readCalls is the process's count of read system calls so far.
func readCalls(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("syscr: ")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscr in /proc/self/io")
	return 0
}
