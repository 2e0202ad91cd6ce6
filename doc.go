// Package lockbox is the vocabulary of Lockbox, a Customer Lockbox: what an
// access request is and the states it moves through (request.go, state.go),
// who may do what (authz.go), the settings, users and catalog it is checked
// against, the audit record and its canonical bytes (audit.go), the error
// type every layer speaks (error.go), and the ports the adapters implement:
// the services, the store (store.go) and notification delivery (notify.go).
//
// The rules that need no I/O live here, once, so that the workflow
// (approval), the API (server), the admin center (web), the CLI and the
// stores all apply the same ones.
//
// It imports the standard library only. Every other package of the module
// imports it; it imports none of them, so no driver, transport or
// third-party library can leak into the vocabulary.
package lockbox
