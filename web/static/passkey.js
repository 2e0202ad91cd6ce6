// Passkeys: the only thing in the admin center that needs script, because
// only script reaches the browser's authenticator (WebAuthn). A form
// marked data-passkey="register" adds a passkey; one marked
// data-passkey="sign" signs a decision before it is sent, and one marked
// data-passkey="signin" confirms a password sign-in (its options are in
// data-options). The script asks
// the server for the ceremony's options, runs it, puts the answer into the
// form's hidden fields and submits the form as it would be without script.
(function () {
  'use strict';
  function toBuf(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64(buf) {
    var u = new Uint8Array(buf), s = '';
    for (var i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function post(url, body) {
    return fetch(url, { method: 'POST', credentials: 'same-origin', body: body }).then(function (res) {
      return res.json().then(function (j) {
        if (!res.ok) throw new Error(j.detail || 'The server refused.');
        return j;
      });
    });
  }
  function fail(form, err) {
    var box = form.querySelector('#passkey-error');
    var msg = err && err.name === 'NotAllowedError' ? 'The passkey step was canceled or timed out.' : (err && err.message) || String(err);
    if (box) { box.textContent = msg; box.hidden = false; }
    delete form.dataset.busy;
  }
  function set(form, name, value) { form.querySelector('[name="' + name + '"]').value = value; }

  function register(form) {
    post('/account/passkeys/begin', new URLSearchParams()).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = toBuf(pk.challenge);
      pk.user.id = toBuf(pk.user.id);
      (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      set(form, 'credential', JSON.stringify({
        id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
        response: {
          clientDataJSON: toB64(cred.response.clientDataJSON),
          attestationObject: toB64(cred.response.attestationObject),
          transports: cred.response.getTransports ? cred.response.getTransports() : []
        },
        clientExtensionResults: cred.getClientExtensionResults()
      }));
      form.submit();
    }).catch(function (err) { fail(form, err); });
  }

  function sign(form) {
    var options;
    if (form.dataset.options) { // a sign-in: the page carries the options
      options = Promise.resolve(JSON.parse(form.dataset.options));
    } else {
      var body = new URLSearchParams(new FormData(form));
      body.set('action', form.dataset.action);
      options = post(form.dataset.challenge, body);
    }
    options.then(function (o) {
      var pk = o.publicKey;
      pk.challenge = toBuf(pk.challenge);
      (pk.allowCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (a) {
      set(form, 'passkey_credential_id', toB64(a.rawId));
      set(form, 'passkey_authenticator_data', toB64(a.response.authenticatorData));
      set(form, 'passkey_client_data_json', toB64(a.response.clientDataJSON));
      set(form, 'passkey_signature', toB64(a.response.signature));
      form.submit();
    }).catch(function (err) { fail(form, err); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('form[data-passkey]').forEach(function (form) {
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        if (form.dataset.busy) return;
        form.dataset.busy = '1';
        if (!window.PublicKeyCredential) return fail(form, new Error('This browser does not support passkeys.'));
        (form.dataset.passkey === 'register' ? register : sign)(form);
      });
    });
  });
})();
