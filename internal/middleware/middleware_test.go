package middleware

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"203.0.113.7:41234", "203.0.113.7"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[fe80::1%eth0]:443", "fe80::1%eth0"},
		{"203.0.113.7", "203.0.113.7"}, // rewritten by a proxy middleware
		{"2001:db8::1", "2001:db8::1"},
		{"@", ""}, // a Unix socket
		{"", ""},
		{"example.com:80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			if got := ClientIP(r); got != tt.want {
				t.Errorf("ClientIP(%q) = %q, want %q", tt.remote, got, tt.want)
			}
		})
	}
}

func TestRecover(t *testing.T) {
	fail := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "sorry", http.StatusInternalServerError)
	})
	tests := []struct {
		name       string
		next       http.HandlerFunc
		wantStatus int
		wantBody   string
		wantLog    string
	}{
		{"NoPanic", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("fine")) }, 200, "fine", ""},
		{"Panic", func(http.ResponseWriter, *http.Request) { panic("boom") }, 500, "sorry\n", "panic=boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			h := Recover(slog.New(slog.NewTextHandler(&log, nil)), fail, tt.next)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if tt.wantLog == "" && log.Len() != 0 || !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log = %q, want it to hold %q", log.String(), tt.wantLog)
			}
		})
	}
}

// TestRecoverPassesAbort: http.ErrAbortHandler still aborts the response.
func TestRecoverPassesAbort(t *testing.T) {
	h := Recover(slog.New(slog.DiscardHandler), http.NotFoundHandler(),
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	t.Error("ErrAbortHandler was swallowed")
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true}, // the scheme is case-insensitive
		{"BEARER  abc ", "abc", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic Z29vZDo=", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, ok := BearerToken(r)
			if got != tt.want || ok != tt.ok {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPrivate(t *testing.T) {
	rec := httptest.NewRecorder()
	Private(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
