// Command lockbox-testop is a small OpenID provider for trying Lockbox's
// single sign-on locally and for tests: two issuers (provider, contoso) on
// one loopback address, with the users `lockbox serve --dev` seeds. It is
// its own program so the test IdP never ships inside the lockbox binary.
//
//	go run ./cmd/lockbox-testop --listen 127.0.0.1:9998 --redirect-uri http://127.0.0.1:8080/auth/callback
//
// Every user's password is "testop-password". Users marked with a fault
// get broken ID tokens on purpose (TEST-ONLY, see internal/testop).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lockboxhq/lockbox/internal/testop"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9998", "address to listen on (keep it on loopback)")
	redirect := flag.String("redirect-uri", "http://127.0.0.1:8080/auth/callback", "Lockbox's redirect URI (<external-url>/auth/callback); comma-separated for several")
	config := flag.String("config", "", "a JSON file with {\"issuers\":[{\"name\",\"clients\":[{\"id\",\"secret\",\"redirect_uris\"}],\"users\":[{\"email\",\"password\",\"email_verified\",\"fault\"}]}]} instead of the built-in users")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	cfg := testop.DefaultConfig(strings.Split(*redirect, ",")...)
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lockbox-testop:", err)
			os.Exit(1)
		}
		cfg = testop.Config{}
		if err := json.Unmarshal(b, &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "lockbox-testop: config:", err)
			os.Exit(1)
		}
	}
	s, err := testop.Start(*listen, cfg, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lockbox-testop:", err)
		os.Exit(1)
	}
	for _, iss := range cfg.Issuers {
		fmt.Printf("issuer %-10s %s (users: %d)\n", iss.Name, s.Issuer(iss.Name), len(iss.Users))
	}
	if *config == "" {
		fmt.Printf("client id %q, secret %q; every password is %q\n", testop.DefaultClientID, testop.DefaultClientSecret, testop.DefaultPassword)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	_ = s.Close()
}
