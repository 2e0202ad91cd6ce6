package main

import (
	"fmt"
	"net"
	"net/url"
	"sync/atomic"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/passkey"
)

// serverRP is the server's WebAuthn relying party, known once the server
// has its URL (the listener's port may be chosen at start): until then,
// and when no URL names a host a browser accepts as a relying party id,
// passkey calls answer 503.
type serverRP struct {
	rp atomic.Pointer[passkey.RelyingParty]
}

var _ lockbox.PasskeyRelyingParty = (*serverRP)(nil)

// set makes the relying party of externalURL, or of the listen URL with a
// loopback address spelt "localhost" (WebAuthn refuses IP addresses).
func (s *serverRP) set(externalURL, listenURL string) error {
	raw := externalURL
	if raw == "" {
		u, err := url.Parse(listenURL)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			u.Host = net.JoinHostPort("localhost", u.Port())
		}
		raw = u.String()
	}
	rp, err := passkey.New(raw, "Lockbox")
	if err != nil {
		return fmt.Errorf("passkeys: %w", err)
	}
	s.rp.Store(rp)
	return nil
}

func (s *serverRP) get() (*passkey.RelyingParty, error) {
	if rp := s.rp.Load(); rp != nil {
		return rp, nil
	}
	return nil, lockbox.Errorf(lockbox.EUNAVAILABLE, "Passkeys need --external-url with a host name (WebAuthn refuses IP addresses).")
}

func (s *serverRP) RPID() string {
	if rp, err := s.get(); err == nil {
		return rp.RPID()
	}
	return ""
}

func (s *serverRP) BeginRegistration(u *lockbox.User, existing []*lockbox.Passkey) ([]byte, []byte, error) {
	rp, err := s.get()
	if err != nil {
		return nil, nil, err
	}
	return rp.BeginRegistration(u, existing)
}

func (s *serverRP) FinishRegistration(u *lockbox.User, state, response []byte) (*lockbox.Passkey, error) {
	rp, err := s.get()
	if err != nil {
		return nil, err
	}
	return rp.FinishRegistration(u, state, response)
}

func (s *serverRP) AssertionOptions(challenge []byte, keys []*lockbox.Passkey) ([]byte, error) {
	rp, err := s.get()
	if err != nil {
		return nil, err
	}
	return rp.AssertionOptions(challenge, keys)
}

func (s *serverRP) VerifyAssertion(key *lockbox.Passkey, challenge []byte, a lockbox.PasskeyAssertion) (uint32, error) {
	rp, err := s.get()
	if err != nil {
		return 0, err
	}
	return rp.VerifyAssertion(key, challenge, a)
}

func (s *serverRP) CheckSignature(key *lockbox.Passkey, challenge []byte, a lockbox.PasskeyAssertion) error {
	rp, err := s.get()
	if err != nil {
		return err
	}
	return rp.CheckSignature(key, challenge, a)
}
