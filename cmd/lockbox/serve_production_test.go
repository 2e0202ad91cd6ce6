package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// writeCert writes a self-signed certificate for 127.0.0.1 named cn to
// certFile and keyFile, and returns it.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written to temporary names and renamed, as certbot does, so a reload
	// never reads half a file.
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(file+".new", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range []string{keyFile, certFile} {
		if err := os.Rename(file+".new", file); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func startProductionServer(t *testing.T, cfg serverConfig, logs io.Writer) *runningServer {
	t.Helper()
	cfg.Listen, cfg.Dev, cfg.PasswordMemoryKiB, cfg.WorkerPoll = "127.0.0.1:0", true, 64, 50*time.Millisecond
	rs, err := startServer(context.Background(), cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.Close(ctx); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	})
	return rs
}

// TestTLS: https with HTTP/2 and HSTS, and a renewed certificate served
// after SIGHUP without a restart.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, "first")
	rs := startProductionServer(t, serverConfig{Production: productionConfig{TLSCert: certFile, TLSKey: keyFile}}, io.Discard)
	if !strings.HasPrefix(rs.URL(), "https://") {
		t.Fatalf("URL %s, want https", rs.URL())
	}
	served := func() (*x509.Certificate, *http.Response) {
		t.Helper()
		// Each call a fresh transport: a new handshake, and no trust in
		// anything but the certificate it is shown.
		var peer *x509.Certificate
		tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error { peer = cs.PeerCertificates[0]; return nil }}}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr}).Get(rs.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return peer, res
	}
	cert, res := served()
	if !cert.Equal(first) || res.ProtoMajor != 2 || res.StatusCode != 200 {
		t.Errorf("served %s over %s, status %d; want the first certificate over HTTP/2", cert.Subject.CommonName, res.Proto, res.StatusCode)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q over TLS", hsts)
	}
	second := writeCert(t, certFile, keyFile, "second")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload happens in the server's signal goroutine; wait for it
	// (bounded), then the new certificate must be the one served.
	for i := 0; i < 500; i++ {
		if cert, _ = served(); cert.Equal(second) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !cert.Equal(second) {
		t.Errorf("after SIGHUP the server still serves %q", cert.Subject.CommonName)
	}
	// A broken renewal keeps the working certificate.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rs.certs.reload(); err == nil {
		t.Error("reloading a broken certificate succeeded")
	}
	if cert, _ = served(); !cert.Equal(second) {
		t.Error("a failed reload replaced the working certificate")
	}
}

// TestProductionFlagsRefused: a flag that cannot work is refused (exit 2)
// before anything is created: no database, no keys, in the folder the
// server was started in. Not parallel: it changes the working directory.
func TestProductionFlagsRefused(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--tls-cert", "c.pem"}, 2, "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--trusted-proxies", "10.0.0.0/33"}, 2, "--trusted-proxies"},
		{[]string{"serve", "--trusted-proxies", "proxy.example.com"}, 2, "--trusted-proxies"},
		{[]string{"serve", "--external-url", "ftp://x"}, 2, "--external-url"},
		{[]string{"serve", "--smtp-url", "http://mail.example.com"}, 2, "--smtp-url"},
		{[]string{"serve", "--mail-from", "not an address"}, 2, "--mail-from"},
		{[]string{"serve", "--session-idle", "13h"}, 2, "--session-idle"},
		// Found only by trying: refused before the database is created too.
		{[]string{"serve", "--listen", "127.0.0.1:0", "--tls-cert", "missing.pem", "--tls-key", "missing.pem"}, 1, "missing.pem"},
		{[]string{"serve", "--listen", busy.Addr().String()}, 1, "listen on"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", busy.Addr().String()}, 1, "listen for metrics"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr, func(string) string { return "" })
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("a refused start left %v in its folder", left)
			}
		})
	}
}

// TestMetricsListen: with --metrics-listen, /metrics is there and only
// there.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	rs := startProductionServer(t, serverConfig{Production: productionConfig{MetricsListen: "127.0.0.1:0"}}, io.Discard)
	for url, want := range map[string]int{rs.URL() + "/metrics": 404, rs.metricsURL: 200} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", url, res.StatusCode, want)
		}
		if want == 200 && !strings.Contains(string(body), "lockbox_") {
			t.Errorf("GET %s: no lockbox metrics in %.200s", url, body)
		}
	}
}

// syncBuffer is a log sink the server writes while the test reads.
type syncBuffer = lockboxtest.SyncBuffer
