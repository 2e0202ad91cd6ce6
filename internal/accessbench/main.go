// Command accessbench measures POST /v1/access/check of a real Lockbox
// (real SQLite, real keys, token verification on) against a minimal
// net/http JSON handler, on loopback in one run on one machine:
//
//  1. throughput of each at a fixed number of connections (closed loop),
//  2. latency of the access check at half its measured throughput (open
//     loop, latency counted from each request's scheduled start, so a
//     stall is not hidden by the driver waiting for it).
//
// Every phase is bounded in time and in request count.
//
//	go run ./internal/accessbench -conns 64 -duration 5s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

func main() {
	conns := flag.Int("conns", 64, "concurrent connections")
	duration := flag.Duration("duration", 5*time.Second, "length of each phase")
	maxReqs := flag.Int64("max-requests", 2_000_000, "request cap per phase")
	rounds := flag.Int("rounds", 2, "throughput rounds (alternating baseline and access check)")
	serve := flag.String("serve", "", "only start Lockbox and the baseline, write their targets to this file, and wait (run the driver in another process, e.g. pinned to another core)")
	targets := flag.String("targets", "", "only drive the targets a -serve process wrote to this file")
	baselineAddr := flag.String("baseline", "", "only serve the minimal handler on this address, until interrupted (for an external driver such as wrk)")
	wrkURL := flag.String("wrk-setup", "", "file and approve a request on the `lockbox serve --dev` at this URL, issue its grant, and write wrk scripts for its access check and for a -baseline server into -wrk-dir")
	wrkDir := flag.String("wrk-dir", ".", "where -wrk-setup writes check.lua, and targets.json for -targets")
	wrkBaseline := flag.String("wrk-baseline", "", "with -wrk-setup: the URL of the -baseline server, for targets.json")
	openRate := flag.Float64("open-rate", 0, "with -targets and -rounds 0: only the open-loop latency phase, at this rate (requests/s) for both targets")
	flag.Parse()
	var err error
	switch {
	case *baselineAddr != "":
		err = serveBaseline(*baselineAddr)
	case *wrkURL != "":
		err = wrkSetup(*wrkURL, *wrkBaseline, *wrkDir)
	case *serve != "":
		err = serveOnly(*serve)
	case *targets != "":
		err = driveFile(*targets, *conns, *duration, *maxReqs, *rounds, *openRate)
	default:
		err = run(*conns, *duration, *maxReqs, *rounds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "accessbench:", err)
		os.Exit(1)
	}
}

type target struct {
	Name, URL, Auth string
	Body            []byte
}

// setUp starts Lockbox with an active grant and the baseline server.
func setUp() (check, base target, stop func(), err error) {
	dir, err := os.MkdirTemp("", "accessbench-*")
	if err != nil {
		return check, base, nil, err
	}
	lb, stopLB, err := lockboxtest.StartIn(dir, os.Stderr)
	if err != nil {
		os.RemoveAll(dir)
		return check, base, nil, err
	}
	baseline := httptest.NewServer(http.HandlerFunc(minimalJSON))
	stop = func() { baseline.Close(); stopLB(); os.RemoveAll(dir) }
	_, g, err := lb.ActiveGrant(240)
	if err != nil {
		stop()
		return check, base, nil, err
	}
	body, _ := json.Marshal(map[string]string{"token": g.Token, "operation": "Get-MailboxStatistics", "resource": "mailbox:alice"})
	check = target{"access check", lb.URL + "/v1/access/check", "Bearer dev-service-token", body}
	base = target{"minimal net/http JSON", baseline.URL, "Bearer dev-service-token", body}
	return check, base, stop, probe(check)
}

// serveOnly runs the servers until interrupted, for a driver in another
// process: on a 2-core machine, pinning each to its own core keeps the load
// generator from stealing the server's CPU and inflating its tail latency.
func serveOnly(file string) error {
	check, base, stop, err := setUp()
	if err != nil {
		return err
	}
	defer stop()
	b, _ := json.Marshal([]target{check, base})
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "serving (GOMAXPROCS %d); targets in %s; interrupt to stop\n", runtime.GOMAXPROCS(0), file)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	return nil
}

// driveFile measures the targets a serveOnly process wrote.
func driveFile(file string, conns int, d time.Duration, maxReqs int64, rounds int, openRate float64) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var ts []target
	if err := json.Unmarshal(b, &ts); err != nil || len(ts) != 2 {
		return fmt.Errorf("%s: not a -serve targets file", file)
	}
	if rounds == 0 && openRate > 0 {
		return halfLoad(ts[0], ts[1], conns, openRate, d, maxReqs)
	}
	return measure(ts[0], ts[1], conns, d, maxReqs, rounds)
}

func run(conns int, d time.Duration, maxReqs int64, rounds int) error {
	check, base, stop, err := setUp()
	if err != nil {
		return err
	}
	defer stop()
	return measure(check, base, conns, d, maxReqs, rounds)
}

func measure(check, base target, conns int, d time.Duration, maxReqs int64, rounds int) error {
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s; %d connections, %v per phase\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), conns, d)
	var best = map[string]float64{}
	for i := range rounds {
		for _, t := range []target{base, check} {
			rps, err := closedLoop(t, conns, d, maxReqs)
			if err != nil {
				return err
			}
			fmt.Printf("round %d  %-22s %9.0f req/s\n", i+1, t.Name, rps)
			best[t.Name] = max(best[t.Name], rps)
		}
	}
	ratio := best[check.Name] / best[base.Name]
	fmt.Printf("best: access check %.0f req/s, baseline %.0f req/s, ratio %.2f\n", best[check.Name], best[base.Name], ratio)
	return halfLoad(check, base, conns, best[check.Name]/2, d, maxReqs)
}

// halfLoad reports the latency of each target at rate (half the access
// check's throughput), open loop.
func halfLoad(check, base target, conns int, rate float64, d time.Duration, maxReqs int64) error {
	for _, t := range []target{check, base} {
		lat, err := openLoop(t, conns, rate, d, maxReqs)
		if err != nil {
			return err
		}
		fmt.Printf("half load (%.0f req/s) %-22s p50 %v  p99 %v  max %v  (n=%d)\n", rate, t.Name,
			pct(lat, 0.50), pct(lat, 0.99), lat[len(lat)-1], len(lat))
	}
	return nil
}

// minimalJSON is the baseline: decode the same body, answer a decision.
func minimalJSON(w http.ResponseWriter, r *http.Request) {
	var in struct{ Token, Operation, Resource string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"allowed": true, "reason": "ok", "request_id": "x", "access_ends_at": nil})
}

func newClient(conns int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
}

func do(c *http.Client, t target) error {
	req, _ := http.NewRequest(http.MethodPost, t.URL, bytes.NewReader(t.Body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", t.Auth)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"allowed":true`)) {
		return fmt.Errorf("%s answered %d: %s", t.Name, resp.StatusCode, b)
	}
	return nil
}

func probe(t target) error { return do(newClient(1), t) }

// closedLoop keeps conns requests in flight for d (or maxReqs requests).
func closedLoop(t target, conns int, d time.Duration, maxReqs int64) (float64, error) {
	c := newClient(conns)
	var n atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) && n.Add(1) <= maxReqs {
				if err := do(c, t); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(min(n.Load(), maxReqs)) / time.Since(start).Seconds(), nil
}

// openLoop sends rate requests per second for d from conns workers and
// returns the sorted latencies, each from its scheduled start.
func openLoop(t target, conns int, rate float64, d time.Duration, maxReqs int64) ([]time.Duration, error) {
	c := newClient(conns)
	total := min(int64(rate*d.Seconds()), maxReqs)
	interval := time.Duration(float64(time.Second) / rate)
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	sched := make(chan time.Time, conns)
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for at := range sched {
				if err := do(c, t); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				mu.Lock()
				lat = append(lat, time.Since(at))
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		select {
		case sched <- at:
		case <-ctx.Done():
		}
	}
	close(sched)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}

func pct(s []time.Duration, p float64) time.Duration {
	return s[min(len(s)-1, int(float64(len(s))*p))].Round(10 * time.Microsecond)
}
