package auditlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// This file is the log's side of c2sp.org/tlog-witness: after a checkpoint
// moves, it is sent to each configured witness with a consistency proof
// from the size that witness last cosigned, in the background, so that a
// witness that is down or slow never delays an append. The cosignatures
// (c2sp.org/tlog-cosignature) that come back are added to the served
// checkpoint note as extra signature lines. A witness refuses to cosign a
// checkpoint that does not extend the one it saw last: a server that shows
// different histories to different readers (a split view) cannot get both
// cosigned, and readers who require a quorum of cosignatures see it.

// algCosignatureV1 is the signed-note key type of c2sp.org/tlog-cosignature.
const algCosignatureV1 = 4

// NewCosignatureVerifier returns a note.Verifier of c2sp.org/tlog-cosignature
// (cosignature/v1, Ed25519) for vkey, a witness verifier key
// "<name>+<hash>+<base64(0x04 || public key)>". (torchwood v0.6.1 has a
// cosignature signer but no verifier built from a vkey, and x/mod's note
// only knows type 0x01.)
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if !ok1 || !ok2 || len(hash16) != 8 || err1 != nil || err2 != nil || name == "" ||
		strings.ContainsAny(name, " \t\n") || len(key) != 1+ed25519.PublicKeySize {
		return nil, fmt.Errorf("%q is not a witness verifier key (name+hash+key)", vkey)
	}
	if key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("witness key %s is of type %#x, not a cosignature/v1 key (0x04)", name, key[0])
	}
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	if binary.BigEndian.Uint32(h[:4]) != uint32(hash) {
		return nil, fmt.Errorf("witness key %s: its key hash %s does not match its key", name, hash16)
	}
	return &cosigVerifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, nil
}

type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }

// Verify checks sig, a big-endian uint64 timestamp and an Ed25519
// signature, over "cosignature/v1\ntime <T>\n" and the checkpoint body.
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	signed := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	return ed25519.Verify(v.key, signed, sig[8:])
}

// Witness is one witness the server sends its checkpoints to.
type Witness struct {
	Name     string // the witness's key name, as in its cosignature lines
	URL      string // its tlog-witness endpoint prefix (add-checkpoint is under it)
	Key      string // its verifier key
	Verifier note.Verifier
}

// ParseWitness reads "NAME URL VKEY" (the form of --witness): the name is
// informative and must match the key's.
func ParseWitness(s string) (Witness, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return Witness{}, fmt.Errorf("witness %q: want \"NAME URL VKEY\"", s)
	}
	if !strings.HasPrefix(f[1], "http://") && !strings.HasPrefix(f[1], "https://") {
		return Witness{}, fmt.Errorf("witness %s: URL %q is not http(s)", f[0], f[1])
	}
	v, err := NewCosignatureVerifier(f[2])
	if err != nil {
		return Witness{}, fmt.Errorf("witness %s: %w", f[0], err)
	}
	if v.Name() != f[0] {
		return Witness{}, fmt.Errorf("witness %s: its key is named %s", f[0], v.Name())
	}
	return Witness{Name: f[0], URL: strings.TrimSuffix(f[1], "/"), Key: f[2], Verifier: v}, nil
}

// CountCosignatures returns how many of witnesses validly cosigned the
// checkpoint note msg (each witness counted once).
func CountCosignatures(msg []byte, witnesses []note.Verifier) int {
	n := 0
	for _, w := range witnesses {
		if Cosigned(msg, w) {
			n++
		}
	}
	return n
}

// Cosigned reports whether witness validly cosigned the checkpoint note msg.
func Cosigned(msg []byte, witness note.Verifier) bool {
	_, err := note.Open(msg, note.VerifierList(witness))
	return err == nil
}

// cosigned is one witness's cosignature line for one size of a log.
type cosigned struct {
	size int64
	line []byte
}

// witnesses is the cosigning state of a Service.
type witnesses struct {
	list   []Witness
	quorum int
	client *http.Client
	logger *slog.Logger

	mu     sync.Mutex
	known  map[string]int64    // witness\x00log -> size the witness last cosigned
	cosigs map[string]cosigned // witness\x00log -> its latest cosignature
	retry  map[string]backoff  // witness\x00log -> when to try again after failures
	busy   []atomic.Bool
	missed []atomic.Bool // a round found the witness busy: run another when it is done
	kick   chan struct{} // wakes the loop for that round
	failed atomic.Int64
}

// SetWitnesses makes the service send its checkpoints to ws (call before
// serving, then RunWitnesses); quorum is what MissingCosignatures counts
// logs below.
func (s *Service) SetWitnesses(ws []Witness, quorum int, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.wit = &witnesses{list: ws, quorum: quorum, client: &http.Client{Timeout: 10 * time.Second}, logger: logger,
		known: map[string]int64{}, cosigs: map[string]cosigned{}, retry: map[string]backoff{}, busy: make([]atomic.Bool, len(ws)),
		missed: make([]atomic.Bool, len(ws)), kick: make(chan struct{}, 1)}
}

// AppendNotifier is a store that tells when a transaction that appended
// audit records commits (the SQLite and PostgreSQL stores do): the witness
// loop wakes on it rather than polling.
type AppendNotifier interface {
	AuditAppended() <-chan struct{}
}

// RunWitnesses sends each log's checkpoint to the witnesses whenever it
// moved, until ctx ends. logs lists the logs. It wakes when an append
// through this process commits (the store's AppendNotifier), so the
// cosignatures follow an append by one round trip to the witness (SPEC
// §12: within 2 s); when a failed witness is due again; and every
// fallback, for appends it cannot hear of: another replica's, or made
// before a restart. Each witness is served by its own goroutine, so a slow
// one delays no other.
func (s *Service) RunWitnesses(ctx context.Context, fallback time.Duration, logs func(context.Context) ([]string, error)) {
	if s.wit == nil || len(s.wit.list) == 0 {
		return
	}
	notifier, _ := s.store.(AppendNotifier)
	timer := time.NewTimer(fallback)
	defer timer.Stop()
	for {
		var appended <-chan struct{}
		if notifier != nil {
			appended = notifier.AuditAppended() // before the round: an append during it wakes the next
		}
		s.witnessRound(ctx, logs)
		timer.Reset(s.wit.nextWake(fallback))
		select {
		case <-ctx.Done():
			return
		case <-appended:
		case <-s.wit.kick:
		case <-timer.C:
		}
	}
}

// nextWake is how long the loop may sleep: until the earliest retry of a
// failed witness, at most fallback.
func (w *witnesses) nextWake(fallback time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := fallback
	for _, b := range w.retry {
		d = min(d, max(time.Until(b.until), 0))
	}
	return d
}

func (s *Service) witnessRound(ctx context.Context, logs func(context.Context) ([]string, error)) {
	names, err := logs(ctx)
	if err != nil {
		s.wit.logger.Warn("witnesses: list logs", "err", err)
		return
	}
	var cps []*lockbox.Checkpoint
	var cpLogs []string
	for _, log := range names {
		cp, err := s.checkpoint(ctx, log)
		if err != nil {
			s.wit.logger.Warn("witnesses: checkpoint", "log", log, "err", err)
			continue
		}
		if cp.Size > 0 {
			cps, cpLogs = append(cps, cp), append(cpLogs, log)
		}
	}
	for i := range s.wit.list {
		var todo []int
		for j, cp := range cps {
			if s.wit.due(s.wit.list[i].Name, cpLogs[j], cp.Size) {
				todo = append(todo, j)
			}
		}
		if len(todo) == 0 {
			continue
		}
		if !s.wit.busy[i].CompareAndSwap(false, true) {
			// Busy: its goroutine runs another round when done. (Try once
			// more after saying so, in case it finished in between.)
			s.wit.missed[i].Store(true)
			if !s.wit.busy[i].CompareAndSwap(false, true) {
				continue
			}
			s.wit.missed[i].Store(false)
		}
		go func() {
			defer func() {
				s.wit.busy[i].Store(false)
				if s.wit.missed[i].Swap(false) {
					select { // what moved while this witness was busy
					case s.wit.kick <- struct{}{}:
					default:
					}
				}
			}()
			for _, j := range todo {
				err := s.addCheckpoint(ctx, &s.wit.list[i], cpLogs[j], cps[j])
				s.wit.done(s.wit.list[i].Name, cpLogs[j], err)
				if err != nil {
					s.wit.failed.Add(1)
					s.wit.logger.Warn("witness did not cosign", "witness", s.wit.list[i].Name, "log", cpLogs[j], "size", cps[j].Size, "err", err)
				}
			}
		}()
	}
}

// backoff spaces the attempts at a witness that failed: a witness that is
// down, or refuses a log (unknown to it, or forked), is asked again after
// 1 s, 2 s, 4 s… up to 5 min, not at every poll.
type backoff struct {
	fails int
	until time.Time
}

// due reports whether witness should be sent the checkpoint of size of log.
func (w *witnesses) due(witness, log string, size int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := witness + "\x00" + log
	if c, ok := w.cosigs[key]; ok && c.size == size {
		return false
	}
	return time.Now().After(w.retry[key].until)
}

func (w *witnesses) done(witness, log string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := witness + "\x00" + log
	if err == nil {
		delete(w.retry, key)
		return
	}
	b := w.retry[key]
	b.fails++
	b.until = time.Now().Add(min(time.Second<<min(b.fails-1, 9), 5*time.Minute))
	w.retry[key] = b
}

// errWitnessAhead: the witness has cosigned a larger tree than the log
// has: the log was rolled back, or the witness saw another history.
var errWitnessAhead = errors.New("the witness has cosigned a larger tree of this log than the log now has (rolled back or forked)")

// addCheckpoint sends cp to w (c2sp.org/tlog-witness add-checkpoint): with
// a consistency proof from the size w is believed to have cosigned, and
// once more from the size its 409 Conflict tells when that was wrong.
func (s *Service) addCheckpoint(ctx context.Context, w *Witness, log string, cp *lockbox.Checkpoint) error {
	key := w.Name + "\x00" + log
	s.wit.mu.Lock()
	old := s.wit.known[key]
	s.wit.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if old > cp.Size {
			return fmt.Errorf("%w: witness at %d, log at %d", errWitnessAhead, old, cp.Size)
		}
		var proof [][32]byte
		if old > 0 {
			err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
				proof, err = consistencyProof(ctx, tx, log, old, cp.Size)
				return err
			})
			if err != nil {
				return err
			}
		}
		var body bytes.Buffer
		fmt.Fprintf(&body, "old %d\n", old)
		for _, h := range proof {
			body.WriteString(tlog.Hash(h).String() + "\n")
		}
		body.WriteString("\n")
		body.Write(cp.Note)
		req, err := http.NewRequestWithContext(ctx, "POST", w.URL+"/add-checkpoint", &body)
		if err != nil {
			return err
		}
		resp, err := s.wit.client.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusConflict && attempt == 0:
			n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("409 with an unreadable size %q", b)
			}
			old = n
			continue
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		// The answer is the witness's signature lines: keep the one that
		// verifies with its key over this checkpoint.
		line, err := pickCosignature(cp.Note, b, w.Verifier)
		if err != nil {
			return err
		}
		s.wit.mu.Lock()
		s.wit.known[key] = cp.Size
		if c := s.wit.cosigs[key]; c.size <= cp.Size {
			s.wit.cosigs[key] = cosigned{size: cp.Size, line: line}
		}
		s.wit.mu.Unlock()
		return nil
	}
}

func pickCosignature(msg, lines []byte, v note.Verifier) ([]byte, error) {
	for _, l := range bytes.SplitAfter(lines, []byte("\n")) {
		if len(l) == 0 || l[len(l)-1] != '\n' {
			continue
		}
		if _, err := note.Open(append(append([]byte(nil), msg...), l...), note.VerifierList(v)); err == nil {
			return l, nil
		}
	}
	return nil, fmt.Errorf("the witness answered with no valid cosignature by %s: %q", v.Name(), lines)
}

// withCosignatures returns cp with the cosignature lines the witnesses
// gave for its size.
func (s *Service) withCosignatures(log string, cp *lockbox.Checkpoint) *lockbox.Checkpoint {
	if s.wit == nil {
		return cp
	}
	var extra []byte
	s.wit.mu.Lock()
	for _, w := range s.wit.list {
		if c, ok := s.wit.cosigs[w.Name+"\x00"+log]; ok && c.size == cp.Size {
			extra = append(extra, c.line...)
		}
	}
	s.wit.mu.Unlock()
	if extra == nil {
		return cp
	}
	out := *cp
	out.Note = append(append([]byte(nil), cp.Note...), extra...)
	return &out
}

// MissingCosignatures counts, over the logs whose latest checkpoint is
// known, the witnesses that have not cosigned that checkpoint (a gauge for
// /metrics), the add-checkpoint requests that failed so far, and the logs
// whose latest checkpoint has fewer cosignatures than the quorum.
func (s *Service) MissingCosignatures() (missing, failed, belowQuorum int64) {
	if s.wit == nil {
		return 0, 0, 0
	}
	s.mu.Lock()
	latest := make(map[string]int64, len(s.latest))
	for log, cp := range s.latest {
		if cp.Size > 0 {
			latest[log] = cp.Size
		}
	}
	s.mu.Unlock()
	s.wit.mu.Lock()
	defer s.wit.mu.Unlock()
	for log, size := range latest {
		have := 0
		for _, w := range s.wit.list {
			if c, ok := s.wit.cosigs[w.Name+"\x00"+log]; ok && c.size == size {
				have++
			} else {
				missing++
			}
		}
		if have < s.wit.quorum {
			belowQuorum++
		}
	}
	return missing, s.wit.failed.Load(), belowQuorum
}
