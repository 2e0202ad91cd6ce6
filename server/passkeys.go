package server

import (
	"encoding/json"
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// Passkeys (SPEC §10.3): the caller's own, and decision challenges. Every
// route acts on the caller's account; none names another.

type passkeyList struct {
	Passkeys []*lockbox.Passkey `json:"passkeys"`
}

// passkeyFinish is the body of POST /v1/me/passkeys(/finish): a name and
// the browser's PublicKeyCredential as it came from
// navigator.credentials.create (its own JSON, checked by the relying party).
type passkeyFinish struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

func (s *Server) passkeys() (lockbox.PasskeyService, error) {
	if s.Passkeys == nil {
		return nil, lockbox.Errorf(lockbox.EUNAVAILABLE, "Passkeys are not configured on this server.")
	}
	return s.Passkeys, nil
}

func (s *Server) listPasskeys(w http.ResponseWriter, r *http.Request) {
	ps, err := s.passkeys()
	if err == nil {
		var keys []*lockbox.Passkey
		if keys, err = ps.ListPasskeys(r.Context()); err == nil {
			out := passkeyList{Passkeys: make([]*lockbox.Passkey, 0, len(keys))}
			for _, k := range keys {
				c := *k
				c.CreatedAt, c.LastUsedAt = k.CreatedAt.UTC(), utcPtr(k.LastUsedAt)
				out.Passkeys = append(out.Passkeys, &c)
			}
			s.respond(w, r, http.StatusOK, out)
			return
		}
	}
	s.error(w, r, err)
}

func (s *Server) beginPasskey(w http.ResponseWriter, r *http.Request) {
	ps, err := s.passkeys()
	if err == nil {
		var b *lockbox.PasskeyBegin
		if b, err = ps.BeginPasskey(r.Context()); err == nil {
			s.respond(w, r, http.StatusOK, b)
			return
		}
	}
	s.error(w, r, err)
}

func (s *Server) finishPasskey(w http.ResponseWriter, r *http.Request) {
	var in passkeyFinish
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	ps, err := s.passkeys()
	if err == nil {
		var p *lockbox.Passkey
		if p, err = ps.FinishPasskey(r.Context(), in.Name, in.Credential); err == nil {
			c := *p
			c.CreatedAt = p.CreatedAt.UTC()
			s.respond(w, r, http.StatusCreated, &c)
			return
		}
	}
	s.error(w, r, err)
}

func (s *Server) removePasskey(w http.ResponseWriter, r *http.Request) {
	ps, err := s.passkeys()
	if err == nil {
		if err = ps.RemovePasskey(r.Context(), r.PathValue("credential")); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.error(w, r, err)
}

func (s *Server) decisionChallenge(w http.ResponseWriter, r *http.Request) {
	var in lockbox.DecisionIntent
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	ps, err := s.passkeys()
	if err == nil {
		var ch *lockbox.DecisionChallenge
		if ch, err = ps.DecisionChallenge(r.Context(), r.PathValue("id"), in); err == nil {
			ch.ExpiresAt = ch.ExpiresAt.UTC()
			s.respond(w, r, http.StatusOK, ch)
			return
		}
	}
	s.error(w, r, err)
}

// loginPasskey finishes a password sign-in that answered
// passkey_required (POST /v1/auth/token/passkey).
func (s *Server) loginPasskey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Challenge string                   `json:"challenge"`
		Assertion lockbox.PasskeyAssertion `json:"assertion"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	ps, err := s.passkeys()
	if err == nil {
		var sess *lockbox.Session
		if sess, err = ps.LoginPasskey(r.Context(), in.Challenge, in.Assertion); err == nil {
			s.respond(w, r, http.StatusOK, lockbox.Session{Token: sess.Token, ExpiresAt: sess.ExpiresAt.UTC(), PasswordChangeRequired: sess.PasswordChangeRequired})
			return
		}
	}
	s.error(w, r, err)
}
