package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/lockboxhq/lockbox"
)

// SMTPConfig is where and how to send mail, parsed from LOCKBOX_SMTP_URL.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is "implicit" (smtps://), "starttls" (required), "opportunistic"
	// (STARTTLS when the server offers it; the default) or "none".
	TLS string
	// Auth is the SMTP AUTH mechanism: "auto" (the strongest the server
	// offers; no PLAIN or LOGIN without TLS), "plain", "login", "cram-md5",
	// "scram-sha-256", or "plain-noenc"/"login-noenc" (also without TLS:
	// only for a relay on the same host).
	Auth string
	// Timeout bounds connecting and each SMTP command; the whole attempt
	// is bounded by four times it.
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own CA).
	TLSConfig *tls.Config
}

// String describes the configuration without the password.
func (c SMTPConfig) String() string {
	user := ""
	if c.Username != "" {
		user = c.Username + "@"
	}
	return fmt.Sprintf("smtp %s%s:%d tls=%s auth=%s timeout=%s", user, c.Host, c.Port, c.TLS, c.Auth, c.Timeout)
}

var authTypes = map[string]gomail.SMTPAuthType{
	"auto": gomail.SMTPAuthAutoDiscover, "plain": gomail.SMTPAuthPlain, "login": gomail.SMTPAuthLogin,
	"cram-md5": gomail.SMTPAuthCramMD5, "scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
	"plain-noenc": gomail.SMTPAuthPlainNoEnc, "login-noenc": gomail.SMTPAuthLoginNoEnc,
}

// ParseSMTPURL parses smtp://[user[:password]@]host[:port][?starttls=true|false&auth=…&timeout=30s]
// or smtps://… (TLS from the first byte). Default ports: 25 for smtp, 465
// for smtps; default timeout 30s. Errors never include the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, errors.New("LOCKBOX_SMTP_URL is not a URL; use smtp://user:pass@host:587?starttls=true")
	}
	c := SMTPConfig{Host: u.Hostname(), Auth: "auto", Timeout: 30 * time.Second, TLS: "opportunistic", Port: 25}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		c.TLS, c.Port = "implicit", 465
	default:
		return SMTPConfig{}, fmt.Errorf("LOCKBOX_SMTP_URL must start with smtp:// or smtps://, not %q", u.Scheme+"://")
	}
	if c.Host == "" {
		return SMTPConfig{}, errors.New("LOCKBOX_SMTP_URL has no host")
	}
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port < 1 || c.Port > 65535 {
			return SMTPConfig{}, fmt.Errorf("LOCKBOX_SMTP_URL: port %q is not a port number", p)
		}
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, parseSMTPQuery(&c, u.Query())
}

func parseSMTPQuery(c *SMTPConfig, q url.Values) error {
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "starttls":
			b, err := strconv.ParseBool(v)
			if err != nil || c.TLS == "implicit" {
				return fmt.Errorf("LOCKBOX_SMTP_URL: starttls must be true or false (and only with smtp://); got %q", v)
			}
			c.TLS = map[bool]string{true: "starttls", false: "none"}[b]
		case "auth":
			if _, ok := authTypes[strings.ToLower(v)]; !ok {
				return fmt.Errorf("LOCKBOX_SMTP_URL: unknown auth %q (use auto, plain, login, cram-md5, scram-sha-256, plain-noenc or login-noenc)", v)
			}
			c.Auth = strings.ToLower(v)
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("LOCKBOX_SMTP_URL: timeout must be a positive duration like 30s; got %q", v)
			}
			c.Timeout = d
		default:
			return fmt.Errorf("LOCKBOX_SMTP_URL: unknown parameter %q (known: starttls, auth, timeout)", key)
		}
	}
	return nil
}

// SMTP sends messages to one SMTP server, one connection per message: the
// worker sends few messages, and a fresh connection never inherits a
// broken session.
type SMTP struct {
	cfg SMTPConfig
}

// NewSMTP returns a sender for cfg.
func NewSMTP(cfg SMTPConfig) *SMTP { return &SMTP{cfg: cfg} }

func (s *SMTP) options() []gomail.Option {
	c := s.cfg
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(c.Timeout), gomail.WithHELO("lockbox")}
	switch c.TLS {
	case "implicit":
		opts = append(opts, gomail.WithSSL())
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if c.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(c.TLSConfig))
	}
	if c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(authTypes[c.Auth]),
			gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	return opts
}

// Send delivers msg, an encoded message (Message), from the envelope
// sender from to the one recipient to. Its errors are
// *lockbox.DeliveryError: permanent only when the server refused this
// message for good (5xx to MAIL, RCPT or DATA); connection, TLS,
// authentication and 4xx failures are temporary, since the server or its
// configuration can be fixed within the retry window.
//
// go-mail's client makes the connection, TLS and authentication; the
// envelope and the data go through its SMTP session directly, since the
// message is already encoded (mime.go).
func (s *SMTP) Send(ctx context.Context, from, to string, msg []byte) error {
	client, err := gomail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return &lockbox.DeliveryError{Kind: "config", Err: fmt.Errorf("smtp client: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.Timeout)
	defer cancel()
	c, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		kind := "connect"
		if strings.Contains(err.Error(), "SMTP AUTH") {
			kind = "auth"
		}
		return &lockbox.DeliveryError{Kind: kind, Err: fmt.Errorf("dial failed: %w", err)}
	}
	defer func() { _ = client.CloseWithSMTPClient(c) }()
	// The conversation after the dial must end within the timeout, as in
	// go-mail's own sending: one deadline on the connection bounds it.
	if err := c.UpdateDeadline(s.cfg.Timeout); err != nil {
		return classify(err, "")
	}
	if err := c.Mail(envelope(from)); err != nil {
		return classify(err, "MAIL")
	}
	if err := c.Rcpt(envelope(to)); err != nil {
		return classify(err, "RCPT")
	}
	w, err := c.Data()
	if err != nil {
		return classify(err, "DATA")
	}
	if _, err := w.Write(msg); err != nil {
		return classify(err, "")
	}
	if err := w.Close(); err != nil {
		return classify(err, "DATA")
	}
	return nil
}

// envelope is an address as MAIL FROM and RCPT TO take it: <local@domain>.
func envelope(addr string) string { return (&netmail.Address{Address: addr}).String() }

// classify turns an error of the SMTP conversation into a DeliveryError:
// the server's answer to command (MAIL, RCPT, DATA; "" for anything else)
// is permanent when it is 5xx, temporary when 4xx; an error without an
// SMTP code (the connection broke) is temporary.
func classify(err error, command string) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return &lockbox.DeliveryError{Kind: "connect", Err: err}
	}
	switch {
	case te.Code >= 400 && te.Code < 500:
		return &lockbox.DeliveryError{Kind: "smtp_temporary", Err: err}
	case te.Code >= 500 && command != "":
		return &lockbox.DeliveryError{Kind: "smtp_rejected", Permanent: true, Err: fmt.Errorf("%s: %w", command, err)}
	}
	return &lockbox.DeliveryError{Kind: "smtp_error", Err: err}
}
