package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The copy of a template and the check of the copy, both read from the
// catalog of the schema in the search_path of the DSN they are given, so
// that names come out unqualified: the copy's statements then create their
// objects in whichever schema is current when they run.

// Tables of the current schema, with the columns a copy inserts (all but
// generated ones).
const tablesQuery = `SELECT c.relname,
	(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
	 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')
FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
ORDER BY c.relname`

// Identity columns and their sequences.
const identityQuery = `SELECT c.relname, a.attname, pg_get_serial_sequence(quote_ident(c.relname), a.attname)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND a.attidentity <> ''
ORDER BY 1, 2`

// Constraints under their own names: unique, primary key, check and
// exclusion first, foreign keys last (once every key they name exists).
const constraintsQuery = `SELECT format('ALTER TABLE %I ADD CONSTRAINT %I %s;', c.relname, k.conname, pg_get_constraintdef(k.oid))
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
WHERE c.relnamespace = current_schema()::regnamespace AND k.contype IN ('p', 'u', 'c', 'x', 'f')
ORDER BY k.contype = 'f', c.relname, k.conname`

// Indexes other than those of constraints, under their own names.
const indexesQuery = `SELECT pg_get_indexdef(i.indexrelid) || ';'
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relnamespace = current_schema()::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_constraint k
	WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
ORDER BY 1`

// Functions, as CREATE statements (pg_get_functiondef names them with the
// schema, which unqualified drops).
const functionsQuery = `SELECT pg_get_functiondef(p.oid) || ';'
FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.prokind = 'f'
ORDER BY p.proname, p.oid`

// Triggers, after the functions they run.
const triggersQuery = `SELECT pg_get_triggerdef(t.oid) || ';'
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
ORDER BY c.relname, t.tgname`

// copyScript returns the statements that build a copy of the schema of
// dsn in the current search_path: LIKE copies columns, defaults, identity
// and storage; rows go in before indexes and constraints are built;
// functions and triggers last.
func copyScript(ctx context.Context, dsn string) (string, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one session: one search_path
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", fmt.Errorf("read schema: %w", err)
	}
	tables, err := queryRows(ctx, db, tablesQuery, 2)
	if err != nil {
		return "", fmt.Errorf("read tables: %w", err)
	}
	like := "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE"
	if compression, err := hasColumnCompression(ctx, db); err != nil {
		return "", err
	} else if compression {
		like += " INCLUDING COMPRESSION"
	}
	var create, fill strings.Builder
	for _, t := range tables {
		name, cols := ident(t[0]), t[1]
		from := ident(schema) + "." + name
		fmt.Fprintf(&create, "CREATE TABLE %s (LIKE %s %s);\n", name, from, like)
		var rows bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM `+from+`)`).Scan(&rows); err != nil {
			return "", fmt.Errorf("read %s: %w", from, err)
		}
		if rows {
			fmt.Fprintf(&fill, "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s;\n", name, cols, cols, from)
		}
	}
	seqs, err := sequenceValues(ctx, db)
	if err != nil {
		return "", err
	}
	fill.WriteString(seqs)
	var build strings.Builder
	for _, q := range []string{constraintsQuery, indexesQuery, functionsQuery, triggersQuery} {
		stmts, err := queryRows(ctx, db, q, 1)
		if err != nil {
			return "", fmt.Errorf("read constraints, indexes, functions and triggers: %w", err)
		}
		for _, s := range stmts {
			build.WriteString(unqualified(s[0], schema) + "\n")
		}
	}
	return create.String() + fill.String() + build.String(), nil
}

// sequenceValues returns statements that set each identity sequence of the
// copy where the template's stands, so the next row gets the next number.
func sequenceValues(ctx context.Context, db *sql.DB) (string, error) {
	ids, err := queryRows(ctx, db, identityQuery, 3)
	if err != nil {
		return "", fmt.Errorf("read identity columns: %w", err)
	}
	var b strings.Builder
	for _, id := range ids {
		var last int64
		var called bool
		if err := db.QueryRowContext(ctx, `SELECT last_value, is_called FROM `+id[2]).Scan(&last, &called); err != nil {
			return "", fmt.Errorf("read sequence %s: %w", id[2], err)
		}
		if called {
			fmt.Fprintf(&b, "SELECT setval(pg_get_serial_sequence(%s, %s), %d);\n", literal(ident(id[0])), literal(id[1]), last)
		}
	}
	return b.String(), nil
}

// hasColumnCompression reports whether the server has a compression
// method per column (PostgreSQL 14 and later), which a migration may set
// and a copy must keep.
func hasColumnCompression(ctx context.Context, db *sql.DB) (bool, error) {
	var version int
	if err := db.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		return false, fmt.Errorf("read server version: %w", err)
	}
	return version >= 140000, nil
}

// compressionQuery describes the columns given a compression method.
const compressionQuery = `SELECT format('compression %s.%s %s', c.relname, a.attname, a.attcompression)
	 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	 WHERE c.relnamespace = current_schema()::regnamespace AND a.attcompression <> ''`

// fingerprintQueries describe a schema line by line, without its name:
// everything a migration can create in it, and its rows (below); with
// compressionQuery where the server has it.
var fingerprintQueries = []string{
	`SELECT format('relation %s kind=%s persistence=%s rls=%s options=%s', relname, relkind, relpersistence, relrowsecurity, reloptions)
	 FROM pg_class WHERE relnamespace = current_schema()::regnamespace`,
	`SELECT format('column %s.%s #%s %s notnull=%s identity=%s generated=%s default=%s collation=%s', c.relname, a.attname,
		row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), format_type(a.atttypid, a.atttypmod), a.attnotnull,
		a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid), co.collname)
	 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	 LEFT JOIN pg_collation co ON co.oid = a.attcollation
	 WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped`,
	`SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relnamespace = current_schema()::regnamespace`,
	// NOT NULL is a column property above (PostgreSQL 18 also lists it here).
	`SELECT format('constraint %s on %s type %s: %s', k.conname, k.conrelid::regclass, k.contype, pg_get_constraintdef(k.oid))
	 FROM pg_constraint k WHERE k.connamespace = current_schema()::regnamespace AND k.contype <> 'n'`,
	`SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	 WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal`,
	`SELECT format('rule %s on %s', r.rulename, r.ev_class::regclass) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
	 WHERE c.relnamespace = current_schema()::regnamespace`,
	`SELECT format('policy %s on %s', p.polname, p.polrelid::regclass) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
	 WHERE c.relnamespace = current_schema()::regnamespace`,
	`SELECT format('function %s(%s)', proname, pg_get_function_identity_arguments(oid)) FROM pg_proc
	 WHERE pronamespace = current_schema()::regnamespace`,
	`SELECT format('type %s kind=%s', typname, typtype) FROM pg_type WHERE typnamespace = current_schema()::regnamespace`,
	`SELECT format('sequence %s start=%s increment=%s last=%s', sequencename, start_value, increment_by, last_value)
	 FROM pg_sequences WHERE schemaname = current_schema()`,
}

// fingerprint describes the schema in the search_path of dsn, one sorted
// line per object, column, constraint, index and table content.
func fingerprint(ctx context.Context, dsn string) (string, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", fmt.Errorf("read schema: %w", err)
	}
	queries := fingerprintQueries
	if compression, err := hasColumnCompression(ctx, db); err != nil {
		return "", err
	} else if compression {
		queries = append(slices.Clip(queries), compressionQuery)
	}
	var lines []string
	for _, q := range queries {
		rows, err := queryRows(ctx, db, q, 1)
		if err != nil {
			return "", fmt.Errorf("fingerprint: %w", err)
		}
		for _, r := range rows {
			lines = append(lines, unqualified(r[0], schema))
		}
	}
	tables, err := queryRows(ctx, db, tablesQuery, 2)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	for _, t := range tables {
		var n int64
		var sum string
		err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '') FROM `+
			ident(t[0])+` t`).Scan(&n, &sum)
		if err != nil {
			return "", fmt.Errorf("fingerprint rows of %s: %w", t[0], err)
		}
		lines = append(lines, fmt.Sprintf("rows of %s: %d, md5 %s", t[0], n, sum))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}

// queryRows returns every row of a query of n text columns (NULL as "").
func queryRows(ctx context.Context, db *sql.DB, query string, n int) ([][]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, n)
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// unqualified drops schema from the names in a definition: since
// PostgreSQL 10.3, pg_get_indexdef names the table with its schema even
// when it is in the search_path. Schemas here have random names, which
// appear nowhere else; PostgreSQL quotes them only when it must.
func unqualified(def, schema string) string {
	return strings.NewReplacer(ident(schema)+".", "", schema+".", "").Replace(def)
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// diffLines lists the lines only in a (-) or only in b (+); both sorted.
func diffLines(a, b string) string {
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for _, l := range as {
		if _, found := slices.BinarySearch(bs, l); !found {
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range bs {
		if _, found := slices.BinarySearch(as, l); !found {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}
