package approval

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/lockboxhq/lockbox"
)

// commonPasswordsText is the 10,000 most common passwords (SPEC §10.1):
// the head of zxcvbn's ranked list, see the file's header.
//
//go:embed commonpasswords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, 10_000)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
})

// Password length bounds, in characters.
const (
	minPasswordLen = 12
	maxPasswordLen = 256
)

// checkNewPassword is the one rule for a password a person chooses: at
// least 12 characters, not their email address (nor its local part), not
// one of the 10,000 most common passwords (compared ignoring case).
func checkNewPassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	if n < minPasswordLen || n > maxPasswordLen {
		return lockbox.FieldErrorf(lockbox.EINVALID, "new", "A password must be %d to %d characters long.", minPasswordLen, maxPasswordLen)
	}
	lower := strings.ToLower(strings.TrimSpace(pw))
	local, _, _ := strings.Cut(lockbox.NormalizeEmail(email), "@")
	if lower == lockbox.NormalizeEmail(email) || lower == local {
		return lockbox.FieldErrorf(lockbox.EINVALID, "new", "A password must not be your email address.")
	}
	if commonPasswords()[lower] {
		return lockbox.FieldErrorf(lockbox.EINVALID, "new", "That password is one of the 10,000 most common passwords; choose another.")
	}
	return nil
}
