package main

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestLogWriter: info lines wait at most logFlushEvery, in order; a
// warning writes itself and everything before it at once; Flush writes
// the rest; a full buffer is written without waiting.
func TestLogWriter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		w := newLogWriter(&out)
		log := newLogger("json", &out, w)
		log.Info("one")
		log.Info("two")
		if got := out.String(); got != "" {
			t.Fatalf("written at once: %q, want nothing yet", got)
		}
		time.Sleep(logFlushEvery)
		synctest.Wait()
		if got := out.String(); strings.Count(got, "\n") != 2 || strings.Index(got, "one") > strings.Index(got, "two") {
			t.Fatalf("after %v: %q, want one then two", logFlushEvery, got)
		}
		log.Info("three")
		log.Warn("four")
		if got := out.String(); !strings.Contains(got, "three") || !strings.Contains(got, "four") {
			t.Fatalf("a warning did not write the buffer: %q", got)
		}
		log.Info("five")
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); !strings.Contains(got, "five") {
			t.Fatalf("Flush left %q unwritten", "five")
		}
		log.Info("six")
		if _, err := w.immediate().Write([]byte("banner\n")); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); !strings.HasSuffix(got, "\"six\"}\nbanner\n") {
			t.Fatalf("an immediate write did not follow the buffered line at once: %q", got)
		}
		big := strings.Repeat("x", 70<<10)
		log.Info(big)
		if got := out.String(); !strings.Contains(got, big) {
			t.Fatal("a line over 64 KiB waited for the timer")
		}
	})
}

// TestLogWriterText: the text format goes through the buffer too.
func TestLogWriterText(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w := newLogWriter(&out)
	newLogger("text", &out, w).Error("boom", "k", "v")
	if got := out.String(); !strings.Contains(got, "level=ERROR msg=boom k=v") {
		t.Errorf("got %q", got)
	}
}
