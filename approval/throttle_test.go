package approval_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// from is a context of a caller at addr.
func from(addr string) context.Context {
	return lockbox.NewContextWithClientIP(context.Background(), addr)
}

// TestThrottledClientCannotResetLimits: a client throttled for failed
// sign-ins sprays more made-up addresses than the limiter keeps buckets
// for (100,000). That must neither lift the limit of the account it
// attacked nor its own, and it is told about its own limit first.
func TestThrottledClientCannotResetLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	attacker, other := from("203.0.113.9"), from("198.51.100.4")
	const victim = "approver@contoso.test"
	for i := range 10 { // Options' default LoginBurst: the account is throttled
		if _, err := h.svc.Login(attacker, victim, "wrong-password"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	for i := range 20 { // ClientLoginBurst 30: now the client is too
		if _, err := h.svc.Login(attacker, fmt.Sprintf("nobody%d@example.test", i), "wrong-password"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Fatalf("spray failure %d: %v", i, err)
		}
	}
	_, err := h.svc.Login(attacker, victim, approval.DevPassword)
	if lockbox.ErrorCode(err) != lockbox.ERATELIMITED || !strings.Contains(lockbox.ErrorMessage(err), "your address") {
		t.Fatalf("throttled client, throttled account: %v, want rate_limited for the address", err)
	}
	for i := range 100_001 {
		if _, err := h.svc.Login(attacker, fmt.Sprintf("made-up%d@example.test", i), "wrong-password"); lockbox.ErrorCode(err) != lockbox.ERATELIMITED {
			t.Fatalf("spray %d from a throttled client: %v, want rate_limited", i, err)
		}
	}
	if _, err := h.svc.Login(other, victim, approval.DevPassword); lockbox.ErrorCode(err) != lockbox.ERATELIMITED {
		t.Fatalf("the attacked account after the spray: %v, want still rate_limited", err)
	}
	if _, err := h.svc.Login(attacker, "operator@provider.test", approval.DevPassword); lockbox.ErrorCode(err) != lockbox.ERATELIMITED {
		t.Fatalf("the throttled client after its spray: %v, want still rate_limited", err)
	}
	// An untouched account from an untouched client signs in.
	if _, err := h.svc.Login(other, "operator@provider.test", approval.DevPassword); err != nil {
		t.Fatalf("bystander: %v", err)
	}
}

// TestClientLimitPerIPv6Prefix: IPv6 clients are limited per /64, so
// the addresses of one subscriber's prefix share one limit; IPv4 clients
// per address.
func TestClientLimitPerIPv6Prefix(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 30 { // ClientLoginBurst, each failure from a new address of the /64
		ctx := from(fmt.Sprintf("2001:db8:7:1::%x", i+1))
		if _, err := h.svc.Login(ctx, fmt.Sprintf("nobody%d@example.test", i), "wrong-password"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	tests := []struct {
		addr string
		want string
	}{
		{"2001:db8:7:1:dead:beef:0:1", lockbox.ERATELIMITED}, // same /64
		{"2001:db8:7:2::1", ""},                              // the next /64
		{"203.0.113.10", ""},
	}
	for _, tt := range tests {
		_, err := h.svc.Login(from(tt.addr), "operator@provider.test", approval.DevPassword)
		if got := lockbox.ErrorCode(err); got != tt.want {
			t.Errorf("sign-in from %s: %v, want code %q", tt.addr, err, tt.want)
		}
	}
}

// TestLimitsSharedByReplicas: the failures of one account on two replicas
// of one database count toward one limit (the store keeps it), so more
// replicas give an attacker no more guesses; it survives a restart, and it
// refills one attempt every LoginRefill. The same holds for one client's
// failures over many accounts.
func TestLimitsSharedByReplicas(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	sessions := lockbox.NewOffsetClock()
	opts := approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: lockboxtest.DNS, SessionClock: sessions}
	a := approval.New(st, lockbox.SystemClock{}, opts)
	if err := a.SeedDev(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := approval.New(st, lockbox.SystemClock{}, opts)
	const victim = "approver@contoso.test"
	for i := range 10 { // LoginBurst, spread over the replicas and clients
		svc := []*approval.Service{a, b}[i%2]
		if _, err := svc.Login(from(fmt.Sprintf("203.0.113.%d", i+1)), victim, "wrong-password"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	restarted := approval.New(st, lockbox.SystemClock{}, opts)
	for name, svc := range map[string]*approval.Service{"a": a, "b": b, "restarted": restarted} {
		_, err := svc.Login(from("198.51.100.4"), victim, approval.DevPassword)
		var lerr *lockbox.Error
		if lockbox.ErrorCode(err) != lockbox.ERATELIMITED || !errors.As(err, &lerr) || lerr.RetryAfter <= 0 || lerr.RetryAfter > 30*time.Second {
			t.Errorf("replica %s after 10 failures over two replicas: %v, want rate_limited with a Retry-After of at most 30 s", name, err)
		}
	}
	sessions.Advance(30 * time.Second) // LoginRefill: one more attempt
	if _, err := b.Login(from("198.51.100.4"), victim, approval.DevPassword); err != nil {
		t.Fatalf("after the refill: %v", err)
	}

	// The client limit too: 30 failures (ClientLoginBurst) of one client
	// over both replicas, 15 on each, throttle it on both.
	for i := range 30 {
		svc := []*approval.Service{a, b}[i%2]
		if _, err := svc.Login(from("192.0.2.7"), fmt.Sprintf("nobody%d@example.test", i), "wrong-password"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Fatalf("client failure %d: %v", i, err)
		}
	}
	for name, svc := range map[string]*approval.Service{"a": a, "b": b} {
		_, err := svc.Login(from("192.0.2.7"), "operator@provider.test", approval.DevPassword)
		if lockbox.ErrorCode(err) != lockbox.ERATELIMITED || !strings.Contains(lockbox.ErrorMessage(err), "your address") {
			t.Errorf("replica %s after 30 failures of one client over two replicas: %v, want rate_limited for the address", name, err)
		}
	}
}
