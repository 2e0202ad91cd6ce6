package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestGenerateCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	r, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %v, want 0700", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("files = %v, want one grant and one log key", entries)
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	kid, priv := r.GrantSigner()
	if !strings.HasPrefix(entries[0].Name(), "grant-"+kid) {
		t.Errorf("grant file %s does not carry kid %s", entries[0].Name(), kid)
	}
	if !r.GrantPublicKeys()[kid].Equal(priv.Public()) {
		t.Error("GrantPublicKeys lacks the active key")
	}

	// Generating again keeps the keys.
	r2, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	kid2, _ := r2.GrantSigner()
	if kid2 != kid || r2.LogVerifierKey() != r.LogVerifierKey() {
		t.Error("Generate on a populated directory replaced the keys")
	}
}

func TestLogSignerMatchesVerifierKey(t *testing.T) {
	t.Parallel()
	r := mustGenerate(t)
	if !strings.HasPrefix(r.LogVerifierKey(), LogKeyName+"+") {
		t.Errorf("verifier key %q lacks the name %q", r.LogVerifierKey(), LogKeyName)
	}
	msg := signNote(t, r.LogSigner(), "checkpoint\n")
	v, err := note.NewVerifier(r.LogVerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("note signed by LogSigner does not open with LogVerifierKey: %v", err)
	}
}

func TestRotateKeepsOldKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r1, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldKID, _ := r1.GrantSigner()
	oldNote := signNote(t, r1.LogSigner(), "old\n")

	if _, err := Rotate(dir, KindGrant); err != nil {
		t.Fatal(err)
	}
	r2, err := Rotate(dir, KindLog)
	if err != nil {
		t.Fatal(err)
	}
	newKID, _ := r2.GrantSigner()
	if newKID <= oldKID {
		t.Errorf("active kid after rotation = %s, want newer than %s", newKID, oldKID)
	}
	if _, ok := r2.GrantPublicKeys()[oldKID]; !ok || len(r2.GrantPublicKeys()) != 2 {
		t.Errorf("GrantPublicKeys after rotation = %v, want old and new", r2.GrantPublicKeys())
	}
	if r2.LogVerifierKey() == r1.LogVerifierKey() {
		t.Error("log rotation kept the old active key")
	}
	newNote := signNote(t, r2.LogSigner(), "new\n")
	for name, msg := range map[string][]byte{"old": oldNote, "new": newNote} {
		if _, err := note.Open(msg, r2.LogVerifiers()); err != nil {
			t.Errorf("%s checkpoint does not verify after rotation: %v", name, err)
		}
	}
	if _, err := Rotate(dir, Kind("other")); err == nil {
		t.Error("Rotate accepted an unknown kind")
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]func(t *testing.T, dir string){
		"Empty": func(t *testing.T, dir string) {
			for _, e := range mustReadDir(t, dir) {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		},
		"NoLogKey": func(t *testing.T, dir string) {
			removePrefix(t, dir, "log-")
		},
		"ReadableByOthers": func(t *testing.T, dir string) {
			for _, e := range mustReadDir(t, dir) {
				os.Chmod(filepath.Join(dir, e.Name()), 0o644)
			}
		},
		"CorruptGrant": func(t *testing.T, dir string) {
			overwritePrefix(t, dir, "grant-", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
		},
		"CorruptLog": func(t *testing.T, dir string) {
			overwritePrefix(t, dir, "log-", "PRIVATE+KEY+lockbox-log+00000000+AQ==\n")
		},
		"ForeignLogName": func(t *testing.T, dir string) {
			skey, _, err := note.GenerateKey(rand.Reader, "someone-else")
			if err != nil {
				t.Fatal(err)
			}
			overwritePrefix(t, dir, "log-", skey)
		},
	}
	for name, breakDir := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Generate(dir); err != nil {
				t.Fatal(err)
			}
			breakDir(t, dir)
			if _, err := Load(dir); err == nil {
				t.Fatal("Load accepted a broken key directory")
			}
		})
	}
}

// A signer key made by note.GenerateKey under our name loads: the file
// format is the standard one, not ours.
func TestLoadAcceptsNoteGeneratedKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, LogKeyName)
	if err != nil {
		t.Fatal(err)
	}
	overwritePrefix(t, dir, "log-", skey+"\n")
	r2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r2.LogVerifierKey() != vkey || r2.LogVerifierKey() == r.LogVerifierKey() {
		t.Errorf("LogVerifierKey = %q, want %q", r2.LogVerifierKey(), vkey)
	}
}

func TestSignerKeyRoundTrip(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	got, err := parseLogSignerKey(logSignerKey(priv))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) {
		t.Error("signer key did not round-trip")
	}
}

func mustGenerate(t *testing.T) *Ring {
	t.Helper()
	r, err := Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func signNote(t *testing.T, s note.Signer, text string) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func removePrefix(t *testing.T, dir, prefix string) {
	t.Helper()
	for _, e := range mustReadDir(t, dir) {
		if strings.HasPrefix(e.Name(), prefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func overwritePrefix(t *testing.T, dir, prefix, data string) {
	t.Helper()
	for _, e := range mustReadDir(t, dir) {
		if strings.HasPrefix(e.Name(), prefix) {
			if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}
