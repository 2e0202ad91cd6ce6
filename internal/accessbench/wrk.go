package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
)

// The wrk modes measure a real `lockbox serve` process (its JSON access log
// included) against the minimal handler in a process of its own, both
// driven by wrk from a third process (docs/benchmarks.md):
//
//	accessbench -baseline 127.0.0.1:8091 &
//	lockbox serve --dev --listen 127.0.0.1:8090 … &
//	accessbench -wrk-setup http://127.0.0.1:8090 -wrk-dir /tmp/wrk
//	wrk -t2 -c64 -d5s -s /tmp/wrk/check.lua http://127.0.0.1:8090/v1/access/check
//	wrk -t2 -c64 -d5s -s /tmp/wrk/check.lua http://127.0.0.1:8091/

// serveBaseline serves minimalJSON on addr until interrupted.
func serveBaseline(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(minimalJSON), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Fprintf(os.Stderr, "baseline serving on %s; interrupt to stop\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// wrkSetup files a request on the dev server at url, takes it through
// review and approval, issues its grant, and writes dir/check.lua: a wrk
// script that POSTs the access check for that grant with the dev service
// account's token (the same body the minimal handler decodes); and, given
// the baseline's URL, dir/targets.json for -targets (latency at a set rate,
// which wrk does not measure).
func wrkSetup(url, baselineURL, dir string) error {
	ctx := context.Background()
	as := map[string]*client.Client{}
	for _, email := range []string{"operator@provider.test", "manager@provider.test", "approver@contoso.test"} {
		s, err := client.New(url, "").Login(ctx, email, "lockbox-dev")
		if err != nil {
			return fmt.Errorf("sign in %s: %w", email, err)
		}
		as[email] = client.New(url, s.Token)
	}
	r, err := as["operator@provider.test"].CreateRequest(ctx, lockbox.NewRequest{Tenant: "contoso", Service: "exchange",
		ServiceRequest: "SR-WRK", Reason: "Benchmark.", DurationMinutes: 240})
	if err != nil {
		return err
	}
	if _, err := as["manager@provider.test"].Act(ctx, r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		return err
	}
	if _, err := as["approver@contoso.test"].Act(ctx, r.ID, lockbox.EventApprove, lockbox.Decision{}); err != nil {
		return err
	}
	g, err := as["operator@provider.test"].IssueGrant(ctx, r.ID)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"token": g.Token, "operation": "Get-MailboxStatistics", "resource": "mailbox:alice"})
	script := fmt.Sprintf(`wrk.method = "POST"
wrk.body = %s
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-service-token"
`, strconv.Quote(string(body)))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	check := target{"access check", url + "/v1/access/check", "Bearer dev-service-token", body}
	if err := probe(check); err != nil {
		return err
	}
	if baselineURL != "" {
		ts, _ := json.Marshal([]target{check, {"minimal net/http JSON", baselineURL, "Bearer dev-service-token", body}})
		if err := os.WriteFile(filepath.Join(dir, "targets.json"), ts, 0o600); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "check.lua"), []byte(script), 0o600)
}
