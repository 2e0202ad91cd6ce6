package outbox

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockboxhq/lockbox"
)

// Metrics are the outbox's Prometheus metrics. Counters count this
// process's attempts; the gauges are read from the store at each scrape,
// so every replica reports the same, shared outbox.
type Metrics struct {
	attempts  *prometheus.CounterVec
	failures  *prometheus.CounterVec
	delivered *prometheus.CounterVec
	died      *prometheus.CounterVec
}

// NewMetrics registers the outbox metrics with reg, reading the gauges
// from store at the time of clock.
func NewMetrics(reg prometheus.Registerer, store lockbox.Store, clock lockbox.Clock) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lockbox_outbox_attempts_total",
			Help: "Notification delivery attempts made by this process."}, []string{"channel"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lockbox_outbox_failures_total",
			Help: "Failed notification delivery attempts by this process, by kind of failure."}, []string{"channel", "kind"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lockbox_outbox_delivered_total",
			Help: "Notifications delivered by this process."}, []string{"channel"}),
		died: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lockbox_outbox_dead_total",
			Help: "Notifications this process gave up on (now dead)."}, []string{"channel"}),
	}
	reg.MustRegister(m.attempts, m.failures, m.delivered, m.died, &gauges{store: store, clock: clock})
	// A counter series exists only once it is first touched, and
	// increase() over a series that appears at 1 sees no increase: the
	// alerts (deploy/lockbox-alerts.yml) would miss the first dead
	// notification and the first blocked webhook. So the series they
	// read start at zero.
	for _, channel := range []string{lockbox.ChannelEmail, lockbox.ChannelWebhook} {
		m.attempts.WithLabelValues(channel)
		m.delivered.WithLabelValues(channel)
		m.died.WithLabelValues(channel)
	}
	m.failures.WithLabelValues(lockbox.ChannelWebhook, blockedTarget)
	return m
}

// blockedTarget is the failure kind of a webhook refused at delivery for
// resolving to a private address (webhook.Sender), which an alert watches.
const blockedTarget = "blocked_target"

// observe counts one attempt's outcome. A nil *Metrics counts nothing.
func (m *Metrics) observe(channel, status string, err error) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(channel).Inc()
	if err != nil {
		m.failures.WithLabelValues(channel, lockbox.DeliveryErrorKind(err)).Inc()
	}
	switch status {
	case lockbox.OutboxDelivered:
		m.delivered.WithLabelValues(channel).Inc()
	case lockbox.OutboxDead:
		m.died.WithLabelValues(channel).Inc()
	}
}

var (
	messagesDesc = prometheus.NewDesc("lockbox_outbox_messages",
		"Notifications in the outbox by channel and status: pending is the depth still to deliver, dead the ones given up on.",
		[]string{"channel", "status"}, nil)
	oldestDesc = prometheus.NewDesc("lockbox_outbox_oldest_pending_age_seconds",
		"Age of the oldest notification still pending, by channel (0 when none).", []string{"channel"}, nil)
	scrapeErrDesc = prometheus.NewDesc("lockbox_outbox_scrape_error",
		"1 when the outbox could not be read for this scrape.", nil, nil)
)

// gauges reads the outbox counts at scrape time.
type gauges struct {
	store lockbox.Store
	clock lockbox.Clock
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- messagesDesc
	ch <- oldestDesc
	ch <- scrapeErrDesc
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var counts []lockbox.OutboxCount
	err := g.store.View(ctx, func(tx lockbox.Tx) (err error) {
		counts, err = tx.OutboxCounts(ctx)
		return err
	})
	if err != nil {
		ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, 0)
	now := g.clock.Now()
	for _, channel := range []string{lockbox.ChannelEmail, lockbox.ChannelWebhook} {
		oldest := 0.0
		for _, status := range []string{lockbox.OutboxPending, lockbox.OutboxDelivered, lockbox.OutboxDead, lockbox.OutboxSkipped} {
			n := 0
			for _, c := range counts {
				if c.Channel == channel && c.Status == status {
					n = c.Count
					if status == lockbox.OutboxPending {
						oldest = max(now.Sub(c.Oldest).Seconds(), 0)
					}
				}
			}
			ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(n), channel, status)
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest, channel)
	}
}
