package mail

import "testing"

// FuzzDefangSkipsNothing holds Defang's shortcuts (a pattern runs only on
// text holding the character it needs; printable ASCII skips normalize's
// fold) to what running every step on every string gives. `go test` runs
// the seeds; `go test -fuzz FuzzDefangSkipsNothing ./mail` explores.
func FuzzDefangSkipsNothing(f *testing.F) {
	for _, seed := range []string{
		"", "plain words", "see https://evil.example.com/x", "HTTP://EXAMPLE.COM", "ftp://files.example.org",
		"ssh://host.example", `smb:\\host\share`, "mailto:someone@example.com", "javascript:alert(1)",
		"go to www.example.com now.", "host 10.0.0.1 down", "version 2.5", "пример.рф", "example。com",
		"ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ", "exa\u200bmple.c\u200dom", "\u202eexample.com", `\\fileserver\share`,
		"a\x00b\x1bc\r\nd\re", "line1\n\tline2", "bad\xffbyte", "del\x7f.com", "httpſ://x", "at 17:00 UTC",
		"a:b", "tel:+1-555", "ms-settings:x", "x\u2028y.z",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := defang(s, false), defang(s, true); got != want {
			t.Errorf("Defang(%q) = %q, but every step on it gives %q", s, got, want)
		}
	})
}
