package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// nginxPath finds Debian's nginx, or skips the test in one line (fails it
// under CI's LOCKBOX_REQUIRE_PROXY=1).
func nginxPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("LOCKBOX_NGINX"), "nginx", "/usr/sbin/nginx"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "no nginx to test --trusted-proxies behind: apt-get install nginx (or set LOCKBOX_NGINX)"
	if os.Getenv("LOCKBOX_REQUIRE_PROXY") == "1" {
		t.Fatal(msg + " (LOCKBOX_REQUIRE_PROXY=1)")
	}
	t.Skip(msg)
	return ""
}

// startNginx runs nginx on a free loopback port as the reverse proxy of
// upstream, connecting to it from 127.0.0.2, configured like
// deploy/nginx.conf. It stops when the test ends.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin := nginxPath(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s;
    location / {
      proxy_pass http://%[3]s;
      proxy_bind 127.0.0.2;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Forwarded "";
    }
  }
}
`, dir, addr, upstream)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confFile, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ { // bounded wait for nginx to listen
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 500 {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx does not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "http://" + addr
}

// clientFrom is an HTTP client whose connections come from local, a
// loopback address of its own, so the test can tell client, proxy
// (127.0.0.2) and server apart.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestBehindNginx runs lockbox behind a real nginx with --trusted-proxies
// naming it: the audit log's client_ip and the access log name the client
// (127.0.0.3), not the proxy, whatever X-Forwarded-For the client forges;
// a client talking to lockbox directly cannot forge its address at all.
func TestBehindNginx(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	rs := startProductionServer(t, serverConfig{LogFormat: "json", Production: productionConfig{TrustedProxies: "127.0.0.2/32"}}, logs)
	proxy := startNginx(t, strings.TrimPrefix(rs.URL(), "http://"))
	client := clientFrom("127.0.0.3")

	// signIn signs the operator in through base, with a forged header, and
	// returns the client_ip of the sign-in's audit record.
	post := func(base, path, body, forged string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if forged != "" {
			req.Header.Set("X-Forwarded-For", forged)
			req.Header.Set("X-Forwarded-Proto", "https")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	create := func(base, forged string) string {
		t.Helper()
		res := post(base, "/v1/auth/token", `{"email":"operator@provider.test","password":"lockbox-dev"}`, forged)
		var tok struct{ Token string }
		if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.Token == "" {
			t.Fatalf("sign-in through %s: %d %v", base, res.StatusCode, err)
		}
		res.Body.Close()
		req, _ := http.NewRequest("POST", base+"/v1/requests", strings.NewReader(
			`{"tenant":"contoso","service":"exchange","service_request":"SR-1","reason":"proxy test","duration_minutes":30}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		if forged != "" {
			req.Header.Set("X-Forwarded-For", forged)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("create through %s: %d", base, res.StatusCode)
		}
		if res.Header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS sent for a request that reached nginx over plain http")
		}
		recs := auditOf(t, rs, "contoso")
		return recs[len(recs)-1].ClientIP
	}
	for _, tc := range []struct{ name, base, forged string }{
		{"ThroughNginx", proxy, ""},
		{"ThroughNginxForged", proxy, "198.51.100.66, 10.0.0.1"},
		{"DirectForged", rs.URL(), "198.51.100.66"},
	} {
		if got := create(tc.base, tc.forged); got != "127.0.0.3" {
			t.Errorf("%s: audit client_ip = %q, want 127.0.0.3 (the client)", tc.name, got)
		}
	}
	if err := rs.logOut.Flush(); err != nil { // lines wait up to logFlushEvery
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), `"client_ip":"127.0.0.3"`); n < 6 {
		t.Errorf("access log names the client in %d lines, want every request's:\n%s", n, logs)
	}
	for _, wrong := range []string{`"client_ip":"127.0.0.2"`, "198.51.100.66"} {
		if strings.Contains(logs.String(), wrong) {
			t.Errorf("access log holds %s", wrong)
		}
	}
}

// auditOf returns a tenant's audit records, oldest first.
func auditOf(t *testing.T, rs *runningServer, tenant string) []*lockbox.AuditRecord {
	t.Helper()
	ctx := context.Background()
	var out []*lockbox.AuditRecord
	err := rs.store.View(ctx, func(tx lockbox.Tx) error {
		n, err := tx.AuditSize(ctx, tenant)
		if err != nil {
			return err
		}
		out, err = tx.AuditRecords(ctx, tenant, 0, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
