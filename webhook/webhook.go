// Package webhook delivers Lockbox's webhook notifications (SPEC §5): it
// POSTs an outbox message's JSON to the tenant's endpoint, signed per the
// Standard Webhooks specification (webhook-id, webhook-timestamp,
// webhook-signature: v1,<base64 HMAC-SHA256>), and refuses to reach
// private, loopback or link-local addresses: every address a name resolves
// to is checked at send time and the checked address is the one dialed, so
// DNS cannot swap in an internal target between check and connect. It never
// follows redirects and ignores proxy settings (a proxy would reach what
// the check refuses).
//
// It imports the root lockbox package and the standard library only.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Lookup finds a tenant's endpoint and its signing secrets, the current one
// first, then the one a rotation replaced while its grace lasts (ENOTFOUND
// when it was deleted).
type Lookup func(ctx context.Context, tenant, id string) (*lockbox.Webhook, []string, error)

// Sender delivers webhook outbox messages. Set the fields, then call Deliver.
type Sender struct {
	Lookup Lookup
	// AllowPrivate lets deliveries reach private, loopback and link-local
	// addresses (--allow-private-webhooks: tests and development).
	AllowPrivate bool
	// Clock stamps the signatures. Receivers check webhook-timestamp
	// against their own clock (Standard Webhooks allows 5 minutes), so this
	// is the wall clock even when the dev clock has been moved.
	Clock lockbox.Clock
	// Timeout bounds one delivery (default 10s).
	Timeout time.Duration
	// Resolver resolves endpoint names (nil: net.DefaultResolver).
	Resolver lockbox.Resolver

	once   sync.Once
	client *http.Client
}

// errBlocked marks a refused target address.
var errBlocked = errors.New("the endpoint resolves to a private, loopback or link-local address; such targets are refused unless the server runs with --allow-private-webhooks")

// Deliver POSTs m's payload to its endpoint. Failures are
// *lockbox.DeliveryError: permanent when the endpoint is gone or its address
// is refused, temporary for every network failure and every non-2xx answer
// (including redirects, which are not followed). Errors never contain the
// endpoint URL, which often carries a token.
func (s *Sender) Deliver(ctx context.Context, m *lockbox.OutboxMessage) error {
	w, secrets, err := s.Lookup(ctx, m.Tenant, m.WebhookID)
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return &lockbox.DeliveryError{Kind: "endpoint_deleted", Permanent: true, Err: errors.New("the webhook endpoint was deleted")}
	} else if err != nil {
		return &lockbox.DeliveryError{Kind: "store", Err: err}
	}
	req, err := s.request(ctx, w, secrets, m)
	if err != nil {
		return &lockbox.DeliveryError{Kind: "config", Permanent: true, Err: err}
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return transportError(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &lockbox.DeliveryError{Kind: "http_status", Err: fmt.Errorf("the endpoint at %s answered %s", host(w.URL), resp.Status)}
	}
	return nil
}

// request builds the POST of m to w, signed with each of secrets: Standard
// Webhooks lists signatures separated by spaces, and a receiver accepts the
// message if any is valid, so one that still has a rotated secret is not
// refused during the grace.
func (s *Sender) request(ctx context.Context, w *lockbox.Webhook, secrets []string, m *lockbox.OutboxMessage) (*http.Request, error) {
	now := s.Clock.Now()
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		var err error
		if sigs[i], err = Sign(secret, m.ID, now, m.Payload); err != nil {
			return nil, err
		}
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("webhook %s has no signing secret", w.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return nil, fmt.Errorf("webhook %s has an unusable URL", w.ID)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Lockbox-Webhooks/1")
	h.Set("webhook-id", m.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", strings.Join(sigs, " "))
	return req, nil
}

// Sign returns the webhook-signature header value for a message: "v1,"
// and the base64 HMAC-SHA256, keyed with the secret's decoded bytes, of
// "id.timestamp.body" (timestamp in Unix seconds).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return "", errors.New("the webhook secret is not whsec_ followed by base64")
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// transportError classifies a failed round trip, without the URL that
// *url.Error would print.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, errBlocked) {
		return &lockbox.DeliveryError{Kind: "blocked_target", Permanent: true, Err: errBlocked}
	}
	return &lockbox.DeliveryError{Kind: "connect", Err: err}
}

func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the endpoint"
	}
	return u.Host
}

func (s *Sender) httpClient() *http.Client {
	s.once.Do(s.newClient)
	return s.client
}

func (s *Sender) newClient() {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	s.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           s.dial,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dial resolves addr's host, refuses it if any of its addresses is not
// public, and dials the checked addresses themselves, in order.
func (s *Sender) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	hostname, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	resolver := s.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	// The same reading of the host as at registration: "127.1" is
	// 127.0.0.1 here too, and every address of a name is checked.
	ips, err := lockbox.WebhookAddrs(ctx, resolver, hostname, s.AllowPrivate)
	if lockbox.ErrorCode(err) == lockbox.EINVALID {
		return nil, errBlocked
	} else if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second, Control: s.control}
	var firstErr error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%s has no address", hostname)
	}
	return nil, firstErr
}

// control re-checks the address actually being connected to, the last line
// of defence whatever resolved it.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	if s.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !lockbox.PublicAddr(ap.Addr()) {
		return errBlocked
	}
	return nil
}
