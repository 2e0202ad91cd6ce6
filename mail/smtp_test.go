package mail_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/mail"
)

// TestSendGivesUpOnASilentServer: a server that greets, then never answers
// MAIL FROM, does not hold the delivery worker: Send ends with a temporary
// failure once the configured timeout has passed.
func TestSendGivesUpOnASilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		conn.Write([]byte("220 silent.test ESMTP\r\n"))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "EHLO") || strings.HasPrefix(line, "HELO") {
				conn.Write([]byte("250 silent.test\r\n"))
			} // and nothing to MAIL FROM, or anything after it
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg, err := mail.ParseSMTPURL("smtp://127.0.0.1:" + strconv.Itoa(port) + "?starttls=false&timeout=300ms")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- mail.NewSMTP(cfg).Send(context.Background(), "lockbox@provider.test", "approver@contoso.test", []byte("Subject: x\r\n\r\nx\r\n"))
	}()
	select {
	case err := <-done:
		var de *lockbox.DeliveryError
		if !errors.As(err, &de) || de.Permanent {
			t.Fatalf("Send = %v, want a temporary DeliveryError", err)
		}
	case <-time.After(30 * time.Second): // liveness only: the timeout is 300 ms
		t.Fatal("Send still waits for a silent server")
	}
}
