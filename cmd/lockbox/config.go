package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// credentials is what `lockbox login` saves for later commands.
type credentials struct {
	Server    string    `json:"server"`
	Email     string    `json:"email"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

const credentialsFile = "credentials.json"

// configDir is where the CLI keeps its files: LOCKBOX_CONFIG_DIR when set,
// else lockbox/ under the user's configuration directory.
func configDir(getenv func(string) string) (string, error) {
	if d := getenv("LOCKBOX_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your configuration directory (set LOCKBOX_CONFIG_DIR): %w", err)
	}
	return filepath.Join(d, "lockbox"), nil
}

// loadCredentials reads the saved credentials; nil, nil when there are none.
func loadCredentials(dir string) (*credentials, error) {
	b, err := os.ReadFile(filepath.Join(dir, credentialsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading saved credentials: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("saved credentials in %s are damaged (run `lockbox login` again): %w", dir, err)
	}
	return &c, nil
}

// saveCredentials writes c readable by its owner only. It writes a temporary
// file and renames it, so a crash never leaves half a file, and the token is
// never in a file with wider permissions even for a moment.
func saveCredentials(dir string, c *credentials) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".credentials-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("saving credentials: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("saving credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, credentialsFile)); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	return nil
}

// removeCredentials deletes the saved credentials and reports whether there
// were any.
func removeCredentials(dir string) (bool, error) {
	err := os.Remove(filepath.Join(dir, credentialsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("removing saved credentials: %w", err)
	}
	return true, nil
}

// normalizeServer checks a server URL and drops a trailing slash, so that
// the same server always compares equal.
func normalizeServer(s string) (string, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("server %q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("server %q must be an http:// or https:// URL", u.Redacted())
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server %q must not hold credentials, a query or a fragment", u.Redacted())
	}
	return s, nil
}
