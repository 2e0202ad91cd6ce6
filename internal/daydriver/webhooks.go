package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Webhooks of the day. With -webhooks N the first N tenants (the busiest:
// the tenant drawn for a request skews low) each register one endpoint for
// every event, on a receiver of the driver's own on loopback, and the
// report gives how late each delivery arrived: its receipt time minus the
// event's own timestamp. With -slow-webhook D the busiest tenant's
// receiver answers each delivery only after D — a receiver that is slow
// but answers within the sender's timeout, so it is never paused — while
// its tenant's operator actions keep coming: what one tenant's overloaded
// SIEM does to everyone else's webhooks (docs/notifications.md, "Each
// webhook endpoint gets a share").

// receiver is the loopback HTTP server the day's endpoints point at, one
// path a tenant.
type receiver struct {
	srv  *http.Server
	url  string
	slow string        // the tenant whose receiver is slow, "" for none
	wait time.Duration // how long that receiver takes to answer

	mu       sync.Mutex
	counting bool                       // lags are recorded (not once the clocks move)
	lags     map[string][]time.Duration // by "slow" or "others"
	bad      int                        // deliveries it could not read
}

// startReceiver listens on loopback and serves until stop.
func startReceiver(slowTenant string, wait time.Duration) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{url: "http://" + ln.Addr().String(), slow: slowTenant, wait: wait,
		counting: true, lags: map[string][]time.Duration{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *receiver) stop() { _ = rc.srv.Close() }

// serve records one delivery's lag, under its receiver's group, and
// answers 204 (after wait, for the slow one).
func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	got := time.Now()
	tenant := strings.TrimPrefix(r.URL.Path, "/t/")
	var event struct {
		Timestamp time.Time `json:"timestamp"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &event)
	}
	group := "others"
	if tenant == rc.slow {
		group = "slow"
		time.Sleep(rc.wait)
	}
	rc.mu.Lock()
	switch {
	case err != nil || event.Timestamp.IsZero():
		rc.bad++
	case rc.counting:
		rc.lags[group] = append(rc.lags[group], got.Sub(event.Timestamp))
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// stopCounting ends the recording: the servers' clocks are about to move,
// and events after that carry their times.
func (rc *receiver) stopCounting() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.counting = false
}

// registerWebhooks has each of the first n tenants' admin register one
// endpoint for every event at rc.
func (d *day) registerWebhooks(ctx context.Context, rc *receiver, n int) error {
	for t := range min(n, len(d.tenants)) {
		_, err := d.approvers[t][0].CreateWebhook(ctx, d.tenants[t], lockbox.NewWebhook{
			URL: rc.url + "/t/" + d.tenants[t], Description: "day driver receiver"})
		if err != nil {
			return fmt.Errorf("webhook of %s: %w", d.tenants[t], err)
		}
	}
	return nil
}

// report writes the lags of the deliveries received while the load ran.
func (rc *receiver) report(w io.Writer, endpoints int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fmt.Fprintf(w, "\nwebhooks: %d endpoints", endpoints)
	if rc.slow != "" {
		fmt.Fprintf(w, "; %s's receiver answers after %s", rc.slow, rc.wait)
	}
	fmt.Fprintln(w, "; lag = received − the event's timestamp, while the load ran")
	fmt.Fprintln(w, "| receivers | deliveries | lag p50 | p99 | max |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, group := range []string{"slow", "others"} {
		l := rc.lags[group]
		if len(l) == 0 {
			continue
		}
		slices.Sort(l)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", group, len(l), ms(quantile(l, 0.5)), ms(quantile(l, 0.99)), ms(l[len(l)-1]))
	}
	if rc.bad > 0 {
		fmt.Fprintf(w, "deliveries without a readable timestamp: %d\n", rc.bad)
	}
}
