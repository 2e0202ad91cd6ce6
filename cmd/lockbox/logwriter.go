package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logFlushEvery bounds how long a log line waits in logWriter's buffer.
const logFlushEvery = 100 * time.Millisecond

// logWriter hands the server's log lines to w a batch at a time, at most
// logFlushEvery after the first line of a batch (or once 64 KiB are
// waiting), instead of one write system call per line: under load the
// access log writes one line per request, and a profile of `lockbox serve`
// under wrk showed that write as a third of the access check's own CPU
// (docs/benchmarks.md). Lines of level warning and above are written at
// once (flushingHandler), and Close writes what is left, so what can be
// lost is the last fraction of a second of info lines of a process killed
// outright, as with nginx's buffered access_log.
type logWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer // the pending flush, if any
}

func newLogWriter(w io.Writer) *logWriter { return &logWriter{w: w} }

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) >= 64<<10 {
		return len(p), l.flushLocked()
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(logFlushEvery, func() { _ = l.Flush() })
	}
	return len(p), nil
}

// immediate is a writer whose writes go out at once, after what is
// buffered: the server's own messages to its terminal keep their place
// among the log lines, and only l writes to w.
func (l *logWriter) immediate() io.Writer { return immediateWriter{l} }

type immediateWriter struct{ l *logWriter }

func (w immediateWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.buf = append(w.l.buf, p...)
	return len(p), w.l.flushLocked()
}

// Flush writes what is buffered.
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *logWriter) flushLocked() error {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// flushingHandler writes a record of level warning or above, and
// everything before it, at once.
type flushingHandler struct {
	slog.Handler
	w *logWriter
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(as), h.w}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.w}
}
