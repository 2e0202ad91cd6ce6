package webhook_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/webhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestSignSpecVector checks Sign against the example of the Standard
// Webhooks specification.
func TestSignSpecVector(t *testing.T) {
	t.Parallel()
	got, err := webhook.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	if _, err := webhook.Sign("not base64!", "id", time.Now(), nil); err == nil {
		t.Error("Sign accepted a malformed secret")
	}
}

// receiver is an endpoint that records what it received.
type receiver struct {
	*httptest.Server
	hits    atomic.Int32
	status  int
	headers http.Header
	body    []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.hits.Add(1)
		rc.headers = r.Header.Clone()
		rc.body, _ = io.ReadAll(r.Body)
		if rc.status == http.StatusFound {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func message() *lockbox.OutboxMessage {
	return &lockbox.OutboxMessage{ID: "0193f4c2-0000-7000-8000-0000000000aa", Channel: lockbox.ChannelWebhook,
		Tenant: "contoso", Type: lockbox.OpRequestApproved, WebhookID: "wh-1",
		Payload: []byte(`{"type":"request.approved","timestamp":"2026-11-21T09:00:00Z","data":{"tenant":"contoso"}}`),
		Status:  lockbox.OutboxPending}
}

func sender(url string, allowPrivate bool, secrets ...string) *webhook.Sender {
	if secrets == nil {
		secrets = []string{secret}
	}
	return &webhook.Sender{
		AllowPrivate: allowPrivate, Clock: lockbox.SystemClock{},
		Lookup: func(_ context.Context, tenant, id string) (*lockbox.Webhook, []string, error) {
			if tenant != "contoso" || id != "wh-1" {
				return nil, nil, lockbox.Errorf(lockbox.ENOTFOUND, "Webhook %q not found.", id)
			}
			return &lockbox.Webhook{ID: id, Tenant: tenant, URL: url}, secrets, nil
		},
	}
}

// TestDeliverSignedWithBothSecretsDuringGrace: while a rotated secret's
// grace lasts, a delivery carries two signatures, and a receiver that
// still has either secret accepts it with a Standard Webhooks library.
func TestDeliverSignedWithBothSecretsDuringGrace(t *testing.T) {
	t.Parallel()
	const next = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	rc := newReceiver(t, http.StatusNoContent)
	if err := sender(rc.URL, true, next, secret).Deliver(t.Context(), message()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if sigs := strings.Fields(rc.headers.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("webhook-signature = %q, want two signatures", rc.headers.Get("webhook-signature"))
	}
	for _, s := range []string{next, secret} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(rc.body, rc.headers); err != nil {
			t.Errorf("a receiver with %s… refuses the delivery: %v", s[:10], err)
		}
	}
	wh, err := standardwebhooks.NewWebhook("whsec_" + strings.Repeat("A", 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(rc.body, rc.headers); err == nil {
		t.Error("a receiver with neither secret accepted the delivery")
	}
}

func TestDeliverSignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, http.StatusNoContent)
	m := message()
	if err := sender(rc.URL+"/hooks/lockbox?token=s3cret", true).Deliver(t.Context(), m); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if string(rc.body) != string(m.Payload) {
		t.Errorf("body = %s, want the payload %s", rc.body, m.Payload)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(rc.body, rc.headers); err != nil {
		t.Errorf("the spec's verifier refuses the delivery: %v (headers %v)", err, rc.headers)
	}
	if got := rc.headers.Get("webhook-id"); got != m.ID {
		t.Errorf("webhook-id = %q, want the outbox id %q (stable across retries)", got, m.ID)
	}
	if ct := rc.headers.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	// A tampered body must not verify.
	if err := wh.Verify([]byte(strings.Replace(string(rc.body), "approved", "denied", 1)), rc.headers); err == nil {
		t.Error("a tampered body verified")
	}
}

func TestDeliverFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		allowPrivate  bool
		url           func(rc *receiver) string
		webhookID     string
		wantKind      string
		wantPermanent bool
		wantHits      int32
		resolver      lockbox.Resolver // nil: the system's
	}{
		{"ServerError", 503, true, func(rc *receiver) string { return rc.URL + "/x?token=s3cret" }, "wh-1", "http_status", false, 1, nil},
		{"ClientError", 401, true, func(rc *receiver) string { return rc.URL }, "wh-1", "http_status", false, 1, nil},
		{"RedirectNotFollowed", http.StatusFound, true, func(rc *receiver) string { return rc.URL + "/x?token=s3cret" }, "wh-1", "http_status", false, 1, nil},
		{"LoopbackRefused", 204, false, func(rc *receiver) string { return rc.URL + "/x?token=s3cret" }, "wh-1", "blocked_target", true, 0, nil},
		{"LocalhostNameRefused", 204, false, func(rc *receiver) string {
			return strings.Replace(rc.URL, "127.0.0.1", "localhost", 1) + "/x?token=s3cret"
		}, "wh-1", "blocked_target", true, 0, nil},
		{"EndpointDeleted", 204, true, func(rc *receiver) string { return rc.URL }, "wh-gone", "endpoint_deleted", true, 0, nil},
		{"Unreachable", 204, true, func(*receiver) string { return "http://127.0.0.1:1/x?token=s3cret" }, "wh-1", "connect", false, 0, nil},
		// 127.1 is 127.0.0.1 to a resolver and to inet_aton: refused at
		// delivery too (a TLS error instead would mean it was dialed).
		{"ShortLoopbackRefused", 204, false, func(rc *receiver) string {
			return "https://127.1:" + rc.port() + "/x?token=s3cret"
		}, "wh-1", "blocked_target", true, 0, nil},
		// DNS rebinding: public when the webhook was registered, loopback
		// when it is delivered.
		{"RebindToLoopbackRefused", 204, false, func(rc *receiver) string {
			return "https://hooks.rebind.example:" + rc.port() + "/x?token=s3cret"
		}, "wh-1", "blocked_target", true, 0, &rebinder{first: netip.MustParseAddr("93.184.216.34"), then: netip.MustParseAddr("127.0.0.1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.status)
			m := message()
			m.WebhookID = tt.webhookID
			if rb, ok := tt.resolver.(*rebinder); ok {
				// Registration (approval's CreateWebhook) checks the URL
				// and the name's addresses: both pass.
				w, err := lockbox.ValidateWebhookURL(tt.url(rc), false)
				if err != nil {
					t.Fatalf("registration refused the URL: %v", err)
				}
				if _, err := lockbox.WebhookAddrs(t.Context(), rb, w.Name, false); err != nil {
					t.Fatalf("registration refused the name: %v", err)
				}
			}
			s := sender(tt.url(rc), tt.allowPrivate)
			s.Resolver = tt.resolver
			err := s.Deliver(t.Context(), m)
			if err == nil {
				t.Fatal("Deliver succeeded; want a failure")
			}
			if kind := lockbox.DeliveryErrorKind(err); kind != tt.wantKind {
				t.Errorf("kind = %q (%v), want %q", kind, err, tt.wantKind)
			}
			if p := lockbox.PermanentDelivery(err); p != tt.wantPermanent {
				t.Errorf("permanent = %v, want %v", p, tt.wantPermanent)
			}
			if hits := rc.hits.Load(); hits != tt.wantHits {
				t.Errorf("the receiver was hit %d times, want %d", hits, tt.wantHits)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the endpoint URL's token: %v", err)
			}
		})
	}
}

// port is the receiver's port.
func (rc *receiver) port() string {
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	return port
}

// rebinder answers first with one address, then with another: a name an
// attacker controls, rebound between registration and delivery.
type rebinder struct {
	first, then netip.Addr
	calls       atomic.Int32
}

func (r *rebinder) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	if r.calls.Add(1) == 1 {
		return []netip.Addr{r.first}, nil
	}
	return []netip.Addr{r.then}, nil
}
