package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/httpcode"
)

// Passkeys in the admin center (SPEC §10.3). A WebAuthn ceremony needs the
// browser's authenticator, which only script reaches: static/passkey.js
// asks these endpoints for options (JSON), runs the ceremony, puts its
// answer into the page's form and submits it as usual. Without script the
// pages say so; nothing else on them needs it.

// passkeys is the service, or EUNAVAILABLE.
func (h *Handler) passkeys() (lockbox.PasskeyService, error) {
	if h.cfg.Passkeys == nil {
		return nil, lockbox.Errorf(lockbox.EUNAVAILABLE, "Passkeys are not configured on this server.")
	}
	return h.cfg.Passkeys, nil
}

// writeJSON answers a script: v, or {"code","detail"} with the error's status.
func writeJSON(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(httpcode.StatusOf(err))
		msg := lockbox.ErrorMessage(err)
		if lockbox.ErrorCode(err) == lockbox.EINTERNAL {
			msg = "Internal error."
		}
		json.NewEncoder(w).Encode(map[string]string{"code": lockbox.ErrorCode(err), "detail": msg})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// beginPasskey answers the options for navigator.credentials.create.
func (h *Handler) beginPasskey(w http.ResponseWriter, r *http.Request) {
	ps, err := h.passkeys()
	var b *lockbox.PasskeyBegin
	if err == nil {
		b, err = ps.BeginPasskey(r.Context())
	}
	if err != nil {
		writeJSON(w, nil, err)
		return
	}
	writeJSON(w, b.Options, nil)
}

// addPasskey registers the credential the script put into the form.
func (h *Handler) addPasskey(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	ps, err := h.passkeys()
	if err == nil {
		cred := r.PostForm.Get("credential")
		if cred == "" {
			err = lockbox.FieldErrorf(lockbox.EINVALID, "credential", "Adding a passkey needs JavaScript: only a script can reach your browser's authenticator.")
		} else {
			_, err = ps.FinishPasskey(r.Context(), r.PostForm.Get("name"), json.RawMessage(cred))
		}
	}
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/account?done=passkey", http.StatusSeeOther)
	case lockbox.EINVALID, lockbox.ECONFLICT, lockbox.EFORBIDDEN, lockbox.EUNAVAILABLE:
		h.renderAccount(w, r, statusOf(err), &accountData{PasskeyProblem: lockbox.ErrorMessage(err)})
	default:
		h.serviceError(w, r, err)
	}
}

func (h *Handler) removePasskey(w http.ResponseWriter, r *http.Request) {
	ps, err := h.passkeys()
	if err == nil {
		err = ps.RemovePasskey(r.Context(), r.PathValue("credential"))
	}
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?done=passkey_removed", http.StatusSeeOther)
}

// decisionChallenge answers the statement and the options for
// navigator.credentials.get of the decision the confirmation form is
// about to send, with the narrowing read from the same form as act reads
// it, so the statement signed is the decision made.
func (h *Handler) decisionChallenge(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, nil, lockbox.Errorf(lockbox.EINVALID, "The form could not be read."))
		return
	}
	a, ok := actionsByName[r.PostForm.Get("action")]
	if !ok || !slices.Contains(lockbox.SignedEvents, a.Event) {
		writeJSON(w, nil, lockbox.Errorf(lockbox.EINVALID, "Only approving and denying are signed."))
		return
	}
	ps, err := h.passkeys()
	if err != nil {
		writeJSON(w, nil, err)
		return
	}
	in := lockbox.DecisionIntent{Decision: string(a.Event)}
	if a.Event == lockbox.EventApprove {
		if in.Changes, err = h.narrowing(r, r.PathValue("id")); err != nil {
			writeJSON(w, nil, err)
			return
		}
	}
	ch, err := ps.DecisionChallenge(r.Context(), r.PathValue("id"), in)
	if err != nil {
		writeJSON(w, nil, err)
		return
	}
	writeJSON(w, ch.Options, nil)
}

// formAssertion is the assertion the script put into a decision form.
func formAssertion(f url.Values) *lockbox.PasskeyAssertion {
	a := &lockbox.PasskeyAssertion{CredentialID: f.Get("passkey_credential_id"), AuthenticatorData: f.Get("passkey_authenticator_data"),
		ClientDataJSON: f.Get("passkey_client_data_json"), Signature: f.Get("passkey_signature")}
	if *a == (lockbox.PasskeyAssertion{}) {
		return nil
	}
	return a
}

// signsDecisions reports whether the caller's tenant t requires signed
// decisions (false for anyone who cannot read its settings).
func (h *Handler) signsDecisions(r *http.Request, tenant string) bool {
	u := lockbox.UserFromContext(r.Context())
	if u == nil || u.Tenant != tenant {
		return false
	}
	s, err := h.cfg.Tenants.GetSettings(r.Context(), tenant)
	return err == nil && s.RequireSignedDecisions
}
