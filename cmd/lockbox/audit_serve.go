package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// witnessConfig is who cosigns the server's checkpoints (SPEC §12).
type witnessConfig struct {
	Witnesses []string      // "NAME URL VKEY", c2sp.org/tlog-witness
	Quorum    int           // cosignatures a checkpoint should have (a /metrics gauge counts the logs below it)
	Poll      time.Duration // how often the witness loop looks for checkpoints it was not told of (another replica's appends); appends here wake it
}

func addServeWitnessFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	f.StringArrayVar(&cfg.Witness.Witnesses, "witness", nil, `a witness to send checkpoints to for cosigning, "NAME URL VKEY" (c2sp.org/tlog-witness; repeat for several)`)
	f.IntVar(&cfg.Witness.Quorum, "witness-quorum", 0, "how many witness cosignatures each checkpoint should carry (default: all the --witness given)")
	f.DurationVar(&cfg.Witness.Poll, "witness-poll", 5*time.Second, "how often to look for checkpoints moved by other replicas, or before a restart, to send to the witnesses (an append through this server sends its checkpoint at once)")
}

// parseWitnesses checks the witness flags before anything starts.
func (c witnessConfig) parse() ([]auditlog.Witness, int, error) {
	var ws []auditlog.Witness
	seen := map[string]bool{}
	for _, s := range c.Witnesses {
		w, err := auditlog.ParseWitness(s)
		if err != nil {
			return nil, 0, usageErrorf("--witness: %v", err)
		}
		if seen[w.Name] {
			return nil, 0, usageErrorf("--witness %s is given twice", w.Name)
		}
		seen[w.Name] = true
		ws = append(ws, w)
	}
	q := c.Quorum
	if q == 0 {
		q = len(ws)
	}
	if q < 0 || q > len(ws) {
		return nil, 0, usageErrorf("--witness-quorum %d: there are %d witnesses", c.Quorum, len(ws))
	}
	if len(ws) > 0 && (c.Poll < 10*time.Millisecond || c.Poll > time.Minute) {
		return nil, 0, usageErrorf("--witness-poll %v: between 10ms and 1m", c.Poll)
	}
	return ws, q, nil
}

// auditService is the audit log as the server serves it: checkpoints signed
// with the key ring's active log key, whose verifier key GET /v1/log/key
// publishes, cosigned by the configured witnesses.
func (rs *runningServer) auditService(cfg serverConfig, ws []auditlog.Witness, quorum int) *auditlog.Service {
	ring := rs.keys.ring
	svc := auditlog.New(rs.store, ring.LogSigner(), ring.LogVerifierKey(), cfg.LogOrigin)
	if len(ws) == 0 {
		return svc
	}
	svc.SetWitnesses(ws, quorum, rs.logger)
	rs.notify.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lockbox_audit_missing_cosignatures",
			Help: "Witness cosignatures missing from the latest checkpoints (per log, per witness)."},
			func() float64 { m, _, _ := svc.MissingCosignatures(); return float64(m) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lockbox_audit_checkpoints_below_witness_quorum",
			Help: "Logs whose latest checkpoint has fewer cosignatures than --witness-quorum."},
			func() float64 { _, _, b := svc.MissingCosignatures(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lockbox_audit_witness_failures_total",
			Help: "add-checkpoint requests to witnesses that did not return a cosignature."},
			func() float64 { _, f, _ := svc.MissingCosignatures(); return float64(f) }),
	)
	return svc
}

// auditLogs lists every log: the provider's and each tenant's.
func (rs *runningServer) auditLogs(ctx context.Context) ([]string, error) {
	logs := []string{lockbox.ProviderLog}
	err := rs.store.View(ctx, func(tx lockbox.Tx) error {
		ts, err := tx.ListTenants(ctx)
		for _, t := range ts {
			logs = append(logs, t.Name)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	return logs, nil
}
