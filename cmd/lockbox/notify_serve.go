package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/mail"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/webhook"
)

// notifyConfig configures notification delivery (SPEC §5).
type notifyConfig struct {
	SMTPURL              string
	MailFrom             string
	AllowPrivateWebhooks bool
}

func addServeNotifyFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	f.StringVar(&cfg.Notify.SMTPURL, "smtp-url", "", "where email notifications go: smtp://user:pass@host:587?starttls=true or smtps://user:pass@host:465 (also &timeout=30s, &auth=plain|login|…); prefer the variable, which keeps the password out of the process list")
	f.StringVar(&cfg.Notify.MailFrom, "mail-from", defaultMailFrom, "From address of email notifications")
	f.BoolVar(&cfg.Notify.AllowPrivateWebhooks, "allow-private-webhooks", false, "allow webhooks over http and to private, loopback and link-local addresses (tests, development)")
}

const defaultMailFrom = "Lockbox <lockbox@localhost>"

// notifier is the delivery side of notifications in a running server: the
// outbox worker with its email and webhook deliverers, the dev mailbox, and
// the /metrics handler.
type notifier struct {
	worker  *outbox.Worker
	devMail *mail.DevMailbox // --dev only; the web UI's /dev/mail reads it too
	metrics http.Handler
	reg     *prometheus.Registry // what /metrics serves: others register here too
}

// devMailbox returns the dev mailbox as the server's interface (nil
// outside --dev, so that the route answers with an empty list of nothing).
func (n *notifier) devMailbox() lockbox.DevMailbox {
	if n.devMail == nil {
		return nil
	}
	return n.devMail
}

// newNotifier wires delivery for the store on clock (the dev clock in
// --dev, so moving it moves retries and reminders too).
func (rs *runningServer) newNotifier(cfg serverConfig, clock lockbox.Clock) (*notifier, error) {
	n := &notifier{}
	deliverers := map[string]outbox.Deliverer{lockbox.ChannelWebhook: &webhook.Sender{
		// The service opens the sealed secrets; it exists by the time the
		// worker delivers anything (start: the worker runs after it).
		Lookup: func(ctx context.Context, tenant, id string) (*lockbox.Webhook, []string, error) {
			return rs.service.WebhookForDelivery(ctx, tenant, id)
		},
		AllowPrivate: cfg.Notify.AllowPrivateWebhooks,
		Clock:        lockbox.SystemClock{}, // signatures carry real time: receivers check it
	}}
	email, err := rs.emailSender(cfg, n)
	if err != nil {
		return nil, err
	}
	if email != nil {
		deliverers[lockbox.ChannelEmail] = email
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(clockOffsetGauge(rs.store))
	n.reg = reg
	n.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{rs}})
	n.worker = outbox.New(rs.store, clock, deliverers, outbox.Options{
		Logger: rs.logger, Metrics: outbox.NewMetrics(reg, rs.store, clock)})
	return n, nil
}

// emailSender builds the email deliverer: SMTP when configured, plus the
// dev mailbox in --dev. Without either, email waits in the outbox (and is
// counted as failing "not_configured") until SMTP is configured or it dies.
func (rs *runningServer) emailSender(cfg serverConfig, n *notifier) (*mail.Sender, error) {
	var smtp *mail.SMTP
	if cfg.Notify.SMTPURL != "" {
		sc, err := mail.ParseSMTPURL(cfg.Notify.SMTPURL)
		if err != nil {
			return nil, err
		}
		smtp = mail.NewSMTP(sc)
		rs.logger.Info("email notifications over SMTP", "smtp", sc.String(), "from", cfg.Notify.MailFrom)
	}
	if cfg.Dev {
		n.devMail = mail.NewDevMailbox(500)
	}
	if smtp == nil && n.devMail == nil {
		rs.logger.Warn("LOCKBOX_SMTP_URL is not set: email notifications stay in the outbox until it is (they die after 24 h)")
		return nil, nil
	}
	from := cfg.Notify.MailFrom
	if from == "" {
		from = defaultMailFrom
	}
	s, err := mail.NewSender(from, smtp, n.devMail)
	if err != nil {
		return nil, fmt.Errorf("LOCKBOX_MAIL_FROM: %w", err)
	}
	return s, nil
}

// startDelivery runs the outbox worker until ctx ends; the returned
// function waits for it to stop.
func (rs *runningServer) startDelivery(ctx context.Context) func() {
	var wg sync.WaitGroup
	if rs.notify != nil {
		wg.Go(func() { rs.notify.worker.Run(ctx) })
	}
	return wg.Wait
}

// slogPrinter sends promhttp's errors to the server's log.
type slogPrinter struct{ rs *runningServer }

func (p slogPrinter) Println(v ...any) {
	p.rs.logger.Error("serving metrics", "err", errors.New(fmt.Sprint(v...)))
}

// clockOffsetGauge serves how far this replica's clock is from its database
// server's (lockbox.ClockOffsetter; 0 on SQLite, which has no clock of its
// own), so that an alert can warn while the difference grows, before the
// replica stops being ready at a second.
func clockOffsetGauge(store lockbox.Store) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lockbox_database_clock_offset_seconds",
		Help: "How far this replica's clock was ahead of its database server's at the last readiness check (negative: behind), not counting the round trip; 0 on SQLite. Past 1s the replica is not ready."},
		func() float64 {
			if c, ok := store.(lockbox.ClockOffsetter); ok {
				return c.ClockOffset().Seconds()
			}
			return 0
		})
}
