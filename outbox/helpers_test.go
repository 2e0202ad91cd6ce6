package outbox_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
	"github.com/lockboxhq/lockbox/storetest"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *manualClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// env is the real workflow on a real SQLite database, seeded with the dev
// accounts.
type env struct {
	t     testing.TB
	store *sqlite.Store
	svc   *approval.Service
}

func newEnv(t testing.TB, clock lockbox.Clock) *env { return newEnvHanded(t, clock, nil) }

// newEnvHanded is newEnv whose workflow hands its notifications to the
// worker that worker makes on the store, if not nil.
func newEnvHanded(t testing.TB, clock lockbox.Clock, worker func(lockbox.Store) *outbox.Worker) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1}
	if worker != nil {
		opts.Handoff = worker(st)
	}
	svc := approval.New(st, clock, opts)
	if err := svc.SeedDev(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, svc: svc}
}

func (e *env) as(email string) context.Context {
	e.t.Helper()
	var u *lockbox.User
	err := e.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		// Test accounts have one account per address.
		var users []*lockbox.User
		users, _, err = tx.UsersByEmail(context.Background(), email)
		if err == nil && len(users) != 1 {
			err = lockbox.Errorf(lockbox.ENOTFOUND, "%d accounts with %s", len(users), email)
		}
		if err == nil {
			u = users[0]
		}
		return err
	})
	if err != nil {
		e.t.Fatalf("user %s: %v", email, err)
	}
	return lockbox.NewContextWithUser(context.Background(), u)
}

// pending files a request and has the manager approve it in review.
func (e *env) pending(reason string) *lockbox.AccessRequest {
	e.t.Helper()
	r, err := e.svc.CreateRequest(e.as("operator@provider.test"), lockbox.NewRequest{Tenant: "contoso",
		Service: "exchange", ServiceRequest: "SR-2026-004211", Reason: reason,
		Operations: []string{"Get-MailboxStatistics"}, DurationMinutes: 120})
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return e.act("manager@provider.test", r, lockbox.EventReviewApprove)
}

func (e *env) act(email string, r *lockbox.AccessRequest, ev lockbox.Event) *lockbox.AccessRequest {
	e.t.Helper()
	out, err := e.svc.Act(e.as(email), r.ID, ev, lockbox.Decision{})
	if err != nil {
		e.t.Fatalf("%s by %s: %v", ev, email, err)
	}
	return out
}

func (e *env) outbox(q lockbox.OutboxQuery) []*lockbox.OutboxMessage {
	e.t.Helper()
	q.Limit = 10000
	return storetest.MustListOutbox(e.t, e.store, q)
}

// received is one message an SMTP server accepted.
type received struct {
	from string
	to   []string
	data []byte
}

// smtpServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1:0 that
// keeps what it accepts. It can answer 451 to the next DATA commands and
// 550 to one recipient, and requires AUTH PLAIN when user is set.
type smtpServer struct {
	host       string
	port       int
	user, pass string
	failData   atomic.Int32 // answer 451 to this many DATA commands
	rejectRcpt string

	mu   sync.Mutex
	msgs []received
}

func newSMTPServer(t *testing.T, user, pass string) *smtpServer {
	t.Helper()
	s := &smtpServer{user: user, pass: pass}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.host, s.port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
	return s
}

// url is the LOCKBOX_SMTP_URL of the server.
func (s *smtpServer) url() string {
	u := "smtp://"
	if s.user != "" {
		u += s.user + ":" + s.pass + "@"
	}
	u += s.host + ":" + strconv.Itoa(s.port) + "?starttls=false&timeout=5s"
	if s.user != "" {
		u += "&auth=plain-noenc"
	}
	return u
}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpSession struct {
	srv    *smtpServer
	authed bool
	from   string
	to     []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.srv.user || pass != ss.srv.pass {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == ss.srv.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.srv.failData.Add(-1) >= 0 {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	ss.srv.mu.Lock()
	defer ss.srv.mu.Unlock()
	ss.srv.msgs = append(ss.srv.msgs, received{from: ss.from, to: ss.to, data: b})
	return nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }
