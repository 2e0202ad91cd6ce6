// Command mailbox is a toy data-plane service that shows how a provider's
// service enforces Lockbox grants with package guard: every route is an
// operation of the "exchange" service in the Lockbox catalog, and an
// operator reaches it only with a grant for an approved, active request
// that lists that operation. Every call is checked online and recorded in
// the tenant's audit log.
//
//	go run ./examples/mailbox --lockbox http://127.0.0.1:8080 --service-token dev-service-token
//	curl -H "Authorization: Bearer $GRANT" http://127.0.0.1:8090/mailboxes/alice/statistics
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lockboxhq/lockbox/guard"
)

func main() {
	listen := flag.String("listen", envOr("MAILBOX_LISTEN", "127.0.0.1:8090"), "address to listen on ($MAILBOX_LISTEN)")
	server := flag.String("lockbox", envOr("LOCKBOX_SERVER", "http://127.0.0.1:8080"), "Lockbox server URL ($LOCKBOX_SERVER)")
	token := flag.String("service-token", os.Getenv("LOCKBOX_SERVICE_TOKEN"), "Lockbox service account token ($LOCKBOX_SERVICE_TOKEN; dev: dev-service-token)")
	flag.Parse()
	if *token == "" {
		fmt.Fprintln(os.Stderr, "mailbox: --service-token or LOCKBOX_SERVICE_TOKEN is required (with lockbox serve --dev: dev-service-token)")
		os.Exit(2)
	}
	g, err := guard.New(guard.Config{Server: *server, ServiceToken: *token, Service: "exchange"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailbox:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *listen, newHandler(g)); err != nil {
		fmt.Fprintln(os.Stderr, "mailbox:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	slog.Info("mailbox service listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler is the toy mailbox API, each route guarded by the Lockbox
// operation it performs.
func newHandler(g *guard.Guard) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /mailboxes/{mailbox}", g.Protect(guard.Operation("Get-Mailbox", "mailbox"), http.HandlerFunc(getMailbox)))
	mux.Handle("GET /mailboxes/{mailbox}/statistics", g.Protect(guard.Operation("Get-MailboxStatistics", "mailbox"), http.HandlerFunc(getStatistics)))
	mux.Handle("POST /mailboxes/{mailbox}/repair", g.Protect(guard.Operation("Repair-Mailbox", "mailbox"), http.HandlerFunc(repair)))
	return mux
}

func getMailbox(w http.ResponseWriter, r *http.Request) {
	reply(w, map[string]any{"mailbox": r.PathValue("mailbox"), "display_name": r.PathValue("mailbox") + " (toy mailbox)",
		"quota_mb": 51200})
}

func getStatistics(w http.ResponseWriter, r *http.Request) {
	reply(w, map[string]any{"mailbox": r.PathValue("mailbox"), "item_count": 18234, "total_size_mb": 4096,
		"folders": 42, "served_to": guard.ClaimsFromContext(r.Context()).Subject})
}

func repair(w http.ResponseWriter, r *http.Request) {
	reply(w, map[string]any{"mailbox": r.PathValue("mailbox"), "repaired": true})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
