package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// TestEndToEndProofBundle: an export with its proof bundle verifies offline
// against the log key; any change to the CSV — a record's content, another
// cell, a row removed — or the wrong key fails with exit status 1.
func TestEndToEndProofBundle(t *testing.T) {
	t.Parallel()
	srv, _ := startAuditE2E(t)
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")
	approver, auditor := srv.as("approver@contoso.test"), srv.as("auditor@contoso.test")
	activity(srv, op, mgr, approver)
	dir := t.TempDir()
	export, bundle := filepath.Join(dir, "audit.csv"), filepath.Join(dir, "audit.csv.proof")
	auditor.mustRun("audit", "search", "--tenant", "contoso", "-o", "csv", "--file", export, "--proof", bundle)
	auditor.wantFail(2, "--proof needs -o csv and --file", "audit", "search", "--tenant", "contoso", "--proof", bundle)

	resp, err := http.Get(srv.url + "/v1/log/key")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	vkey := strings.TrimSpace(string(key))
	// Offline: no server, no login.
	offline := &e2e{t: t}
	if out := offline.mustRun("audit", "verify-export", export, bundle, "--key", vkey); !strings.Contains(out, "verified: 9 records") { // 7 of the request, 2 sign-ins

		t.Fatalf("verify-export:\n%s", out)
	}

	orig, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(orig), "\n")
	for _, tt := range []struct {
		name, csv, want string
	}{
		{"record content changed", strings.Replace(string(orig), `""comment"":""ok""`, `""comment"":""OK for 4h""`, 1), "it was changed"},
		{"another cell changed", strings.Replace(string(orig), ",approver@contoso.test,", ",someone@contoso.test,", 1), "but the signed record says"},
		{"row removed", strings.Join(append(lines[:2:2], lines[3:]...), ""), "missing from the CSV"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.csv == string(orig) {
				t.Fatal("the tampering changed nothing")
			}
			f := filepath.Join(t.TempDir(), "audit.csv")
			if err := os.WriteFile(f, []byte(tt.csv), 0o600); err != nil {
				t.Fatal(err)
			}
			offline.wantFail(1, "did NOT verify", "audit", "verify-export", f, bundle, "--key", vkey)
			if _, out, _ := offline.runCLI("audit", "verify-export", f, bundle, "--key", vkey); !strings.Contains(out, tt.want) {
				t.Errorf("report lacks %q:\n%s", tt.want, out)
			}
		})
	}
	_, other, err := note.GenerateKey(nil, "lockbox-log")
	if err != nil {
		t.Fatal(err)
	}
	offline.wantFail(1, "did NOT verify", "audit", "verify-export", export, bundle, "--key", other)
}
