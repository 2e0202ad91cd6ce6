package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRealClient runs the CLI through run, with the real HTTP client,
// against a stub server: the wiring of newClient, the token, and how an API
// error reaches the person.
func TestRealClient(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"status":401,"title":"Unauthorized","code":"unauthenticated","detail":"Sign in first."}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"u1","email":"admin@contoso.test","tenant":"contoso","roles":["global_admin"],"created_at":"2026-11-21T09:00:00Z"}`))
	})
	mux.HandleFunc("POST /v1/requests/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"status":409,"title":"Conflict","code":"conflict","detail":"A request that is expired cannot be approved."}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		name     string
		token    string
		args     []string
		code     int
		inStderr string
	}{
		{"Whoami", "tok", []string{"whoami", "-o", "json"}, 0, ""},
		{"Conflict", "tok", []string{"requests", "approve", "LB-7K3Q9MXA"}, 1,
			"lockbox: A request that is expired cannot be approved.\n"},
		{"BadToken", "nope", []string{"whoami"}, 1, "lockbox: Sign in first. Run `lockbox login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LOCKBOX_SERVER": srv.URL, "LOCKBOX_TOKEN": tt.token, "LOCKBOX_CONFIG_DIR": t.TempDir()}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), tt.inStderr) {
				t.Errorf("stderr = %q, want prefix %q", stderr.String(), tt.inStderr)
			}
			if tt.code == 0 && !strings.Contains(stdout.String(), `"email": "admin@contoso.test"`) {
				t.Errorf("stdout = %q", stdout.String())
			}
		})
	}
}

// TestUnreachableServer checks that a transport failure is an error (exit 1)
// that names the server.
func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	env := map[string]string{"LOCKBOX_SERVER": url, "LOCKBOX_TOKEN": "tok", "LOCKBOX_CONFIG_DIR": t.TempDir()}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"tenants", "list"}, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	if code != 1 || !strings.Contains(stderr.String(), url) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
