package approval

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// hashPassword returns an argon2id PHC string.
func (s *Service) hashPassword(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	m, t := s.opts.PasswordMemoryKiB, s.opts.PasswordTime
	key := argon2.IDKey([]byte(pw), salt, t, m, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=1$%s$%s", argon2.Version, m, t, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// checkPassword reports whether pw matches a PHC string from hashPassword.
func checkPassword(phc, pw string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// randomSecret returns n random bytes, base64url-encoded, with a prefix that
// makes leaked secrets easy to recognise and scan for.
func randomSecret(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is how bearer tokens are stored: a leaked database holds no
// usable token. Tokens are 256-bit random, so a fast hash is enough.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
