package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCredentialsRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lockbox")
	if c, err := loadCredentials(dir); err != nil || c != nil {
		t.Fatalf("loadCredentials before save = %v, %v; want nil, nil", c, err)
	}
	want := &credentials{Server: "https://lockbox.example", Email: "a@b.test", Token: "t1", ExpiresAt: t0}
	if err := saveCredentials(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, filepath.Join(dir, credentialsFile), 0o600)

	// Saving again replaces the file and leaves no temporary files behind.
	want.Token = "t2"
	if err := saveCredentials(dir, want); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != credentialsFile {
		t.Errorf("config dir holds %v, want only %s", entries, credentialsFile)
	}
	assertMode(t, filepath.Join(dir, credentialsFile), 0o600)

	if removed, err := removeCredentials(dir); err != nil || !removed {
		t.Errorf("removeCredentials = %v, %v; want true, nil", removed, err)
	}
	if removed, err := removeCredentials(dir); err != nil || removed {
		t.Errorf("removeCredentials again = %v, %v; want false, nil", removed, err)
	}
}

func TestLoadCredentialsDamaged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, credentialsFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCredentials(dir); err == nil {
		t.Error("damaged credentials loaded without error")
	}
}

func TestConfigDir(t *testing.T) {
	t.Parallel()
	got, err := configDir(func(k string) string {
		if k == "LOCKBOX_CONFIG_DIR" {
			return "/custom/dir"
		}
		return ""
	})
	if err != nil || got != "/custom/dir" {
		t.Errorf("configDir with LOCKBOX_CONFIG_DIR = %q, %v", got, err)
	}
	if got, err := configDir(func(string) string { return "" }); err == nil && filepath.Base(got) != "lockbox" {
		t.Errorf("default configDir = %q, want a lockbox directory", got)
	}
}

func TestNormalizeServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"https://lockbox.example/", "https://lockbox.example", false},
		{" https://lockbox.example/base// ", "https://lockbox.example/base", false},
		{"lockbox.example", "", true},
		{"ftp://lockbox.example", "", true},
		{"https://user:pass@lockbox.example", "", true},
		{"https://lockbox.example?x=1", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := normalizeServer(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %o, want %o", path, got, want)
	}
}
