package lockboxtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Stalled starts a server that stands in for a Lockbox that stops halfway:
// it answers every call with partial (nothing when "", else a 200 whose
// JSON body starts so) and then waits until the caller goes away. arrived
// is closed once a call has reached it and its partial answer is on the way.
func Stalled(tb testing.TB, partial string) (url string, arrived <-chan struct{}) {
	tb.Helper()
	ch := make(chan struct{})
	var once sync.Once
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the caller going away only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		if partial != "" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, partial)
			_ = http.NewResponseController(w).Flush()
		}
		once.Do(func() { close(ch) })
		<-r.Context().Done()
	}))
	tb.Cleanup(ts.Close)
	return ts.URL, ch
}

// CancelWhileReading is a transport that calls Cancel once the first bytes
// of an answer's body have been read, so the rest of the read meets a
// canceled context.
type CancelWhileReading struct{ Cancel context.CancelFunc }

// RoundTrip makes the call with http.DefaultTransport.
func (c CancelWhileReading) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body = &cancelingBody{ReadCloser: resp.Body, cancel: c.Cancel}
	}
	return resp, err
}

type cancelingBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.cancel()
	return n, err
}
