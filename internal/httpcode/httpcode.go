// Package httpcode is the one mapping between Lockbox error codes and HTTP
// statuses, and the one problem document (problem.go), shared by everything
// that speaks HTTP: the JSON API, the web admin center and the Go client.
// It imports only the root package and the standard library.
package httpcode

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// statuses maps every error code to its HTTP status.
var statuses = map[string]int{
	lockbox.EINVALID:           http.StatusBadRequest,
	lockbox.EUNAUTHENTICATED:   http.StatusUnauthorized,
	lockbox.EFORBIDDEN:         http.StatusForbidden,
	lockbox.EPASSWORDCHANGE:    http.StatusForbidden,
	lockbox.ESIGNATUREREQUIRED: http.StatusForbidden,
	lockbox.EPASSKEYREQUIRED:   http.StatusUnauthorized,
	lockbox.EMFAREQUIRED:       http.StatusForbidden,
	lockbox.ENOTFOUND:          http.StatusNotFound,
	lockbox.ECONFLICT:          http.StatusConflict,
	lockbox.ETOOLARGE:          http.StatusRequestEntityTooLarge,
	lockbox.EUNSUPPORTEDMEDIA:  http.StatusUnsupportedMediaType,
	lockbox.ERATELIMITED:       http.StatusTooManyRequests,
	lockbox.EUNAVAILABLE:       http.StatusServiceUnavailable,
	lockbox.EINTERNAL:          http.StatusInternalServerError,
}

// Status is the HTTP status of an error code; known is false for a code
// this version does not know (which callers treat as internal).
func Status(code string) (status int, known bool) {
	status, known = statuses[code]
	return status, known
}

// StatusOf is the HTTP status for err: 200 for nil, 500 for anything that
// is not a known *lockbox.Error.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if s, ok := statuses[lockbox.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Code is the error code for an HTTP status that came without a problem
// document (a proxy's error page, say): the inverse of Status, plus the
// statuses that proxies and routers answer with.
func Code(status int) string {
	switch status {
	case http.StatusMethodNotAllowed:
		return lockbox.EINVALID
	case http.StatusPreconditionFailed:
		return lockbox.ECONFLICT
	case http.StatusForbidden: // password_change_required comes with its problem document
		return lockbox.EFORBIDDEN
	case http.StatusUnauthorized: // so does passkey_required
		return lockbox.EUNAUTHENTICATED
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return lockbox.EUNAVAILABLE
	}
	for code, s := range statuses {
		if s == status {
			return code
		}
	}
	return lockbox.EINTERNAL
}
