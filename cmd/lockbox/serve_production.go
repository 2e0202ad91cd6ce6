package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox/internal/middleware"
)

// productionConfig is how `lockbox serve` meets the network in production
// (SPEC §13): TLS, the proxies it sits behind, where metrics are served.
type productionConfig struct {
	TLSCert, TLSKey string
	// TrustedProxies is a comma-separated CIDR list (middleware.ParseTrustedProxies).
	TrustedProxies string
	// MetricsListen, when set, serves /metrics there and not on --listen.
	MetricsListen string
}

var productionEnv = []envVar{
	{"tls-cert", "LOCKBOX_TLS_CERT"},
	{"tls-key", "LOCKBOX_TLS_KEY"},
	{"trusted-proxies", "LOCKBOX_TRUSTED_PROXIES"},
	{"metrics-listen", "LOCKBOX_METRICS_LISTEN"},
}

func addServeProductionFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	f.StringVar(&cfg.Production.TLSCert, "tls-cert", "", "serve https with this PEM certificate chain (reloaded on SIGHUP; needs --tls-key)")
	f.StringVar(&cfg.Production.TLSKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.StringVar(&cfg.Production.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For/-Proto (or Forwarded) name the real client")
	f.StringVar(&cfg.Production.MetricsListen, "metrics-listen", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090), not on --listen")
}

// checkProduction refuses a configuration that cannot work, before
// anything is opened (checkServe).
func checkProduction(c productionConfig) (middleware.TrustedProxies, error) {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return middleware.TrustedProxies{}, usageErrorf("--tls-cert and --tls-key go together; got only one")
	}
	tp, err := middleware.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return tp, usageErrorf("--trusted-proxies: %v", err)
	}
	return tp, nil
}

// certReloader holds the serving certificate and replaces it when asked
// (SIGHUP), so a renewed certificate is used without a restart. A reload
// that fails keeps the certificate in use.
type certReloader struct {
	certFile, keyFile string
	mu                sync.RWMutex
	cert              *tls.Certificate
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	return r, r.reload()
}

func (r *certReloader) reload() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("loading TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.mu.Lock()
	r.cert = &cert
	r.mu.Unlock()
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// reloadOnHangup reloads the certificate at every SIGHUP until ctx ends.
func (r *certReloader) reloadOnHangup(ctx context.Context, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := r.reload(); err != nil {
					logger.Error("TLS certificate not reloaded; still serving the previous one", "err", err)
				} else {
					logger.Info("TLS certificate reloaded", "cert", r.certFile)
				}
			}
		}
	}()
}

// listeners are what startServer opens before it creates anything.
type listeners struct {
	main    net.Listener
	url     string
	metrics net.Listener // --metrics-listen; nil when metrics share --listen
	proxies middleware.TrustedProxies
}

// listenAll opens the main listener and the metrics one, closing the
// first when the second fails.
func (rs *runningServer) listenAll(ctx context.Context, cfg serverConfig) (net.Listener, string, net.Listener, error) {
	ln, url, err := rs.listen(ctx, cfg)
	if err != nil {
		return nil, "", nil, err
	}
	if cfg.Production.MetricsListen == "" {
		return ln, url, nil, nil
	}
	mln, err := net.Listen("tcp", cfg.Production.MetricsListen)
	if err != nil {
		ln.Close()
		return nil, "", nil, fmt.Errorf("listen for metrics on %s: %w", cfg.Production.MetricsListen, err)
	}
	return ln, url, mln, nil
}

// listen opens the main listener: TLS (HTTP/2 and HTTP/1.1, TLS 1.2 or
// newer) when a certificate is configured.
func (rs *runningServer) listen(ctx context.Context, cfg serverConfig) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if cfg.Production.TLSCert == "" {
		return ln, "http://" + ln.Addr().String(), nil
	}
	certs, err := newCertReloader(cfg.Production.TLSCert, cfg.Production.TLSKey)
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	certs.reloadOnHangup(ctx, rs.logger)
	rs.certs = certs
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate,
		NextProtos: []string{"h2", "http/1.1"}}
	return tls.NewListener(ln, tlsConfig), "https://" + ln.Addr().String(), nil
}

// productionHandler puts the proxy and HSTS layers in front of h: the
// client address is settled before anything (access log, audit, rate
// limits) reads it.
func productionHandler(h http.Handler, proxies middleware.TrustedProxies) http.Handler {
	return proxies.Forwarded(middleware.HSTS(h))
}

// serveMetrics serves /metrics on ln (--metrics-listen, opened by
// listenAll) until the server closes; nothing when ln is nil.
func (rs *runningServer) serveMetrics(ln net.Listener, metrics http.Handler) {
	if ln == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	rs.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(rs.logger.Handler(), slog.LevelWarn)}
	rs.metricsURL = "http://" + ln.Addr().String() + "/metrics"
	go func() {
		if err := rs.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rs.logger.Error("metrics server stopped", "err", err)
		}
	}()
}
