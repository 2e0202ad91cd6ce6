package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// TestCanceledCall: a call whose context is canceled — before it is sent,
// while it waits for the answer, or while it reads the body — returns an
// error that errors.Is(err, context.Canceled) recognises, from JSON calls
// and text calls alike.
func TestCanceledCall(t *testing.T) {
	calls := map[string]func(context.Context, *client.Client) error{
		"JSON": func(ctx context.Context, c *client.Client) error { _, err := c.Me(ctx); return err },
		"Text": func(ctx context.Context, c *client.Client) error { _, err := c.LogKey(ctx); return err },
	}
	tests := []struct {
		name    string
		partial string
		before  bool
	}{
		{name: "BeforeSending", before: true},
		{name: "AwaitingAnswer"},
		{name: "ReadingBody", partial: `{"id":"u1","email":"a`},
	}
	for callName, call := range calls {
		for _, tt := range tests {
			t.Run(callName+"/"+tt.name, func(t *testing.T) {
				url, arrived := lockboxtest.Stalled(t, tt.partial)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				c := client.New(url, "tok")
				switch {
				case tt.before:
					cancel()
				case tt.partial != "":
					c = c.WithHTTPClient(&http.Client{Transport: lockboxtest.CancelWhileReading{Cancel: cancel}})
				default:
					go func() { <-arrived; cancel() }()
				}
				err := call(ctx, c)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v (%T), want one that is context.Canceled", err, err)
				}
			})
		}
	}
}

// downTransport fails every call the way a broken network does.
type downTransport struct{ err error }

func (d downTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, d.err }

// TestTransportErrorKeepsCause: a server that cannot be reached is
// EUNAVAILABLE with a message for the person, and the transport's error
// stays in the chain for programs.
func TestTransportErrorKeepsCause(t *testing.T) {
	errDown := errors.New("link down")
	c := client.New("http://lockbox.invalid", "tok").WithHTTPClient(&http.Client{Transport: downTransport{errDown}})
	for name, call := range map[string]func() error{
		"JSON": func() error { _, err := c.Me(context.Background()); return err },
		"Text": func() error { _, err := c.LogKey(context.Background()); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			mustCode(t, err, lockbox.EUNAVAILABLE)
			if !errors.Is(err, errDown) {
				t.Errorf("error %v does not wrap the transport's error", err)
			}
			if msg := lockbox.ErrorMessage(err); !strings.Contains(msg, "link down") || !strings.Contains(msg, "lockbox.invalid") {
				t.Errorf("message %q, want the server and the cause", msg)
			}
		})
	}
}
