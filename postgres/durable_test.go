package postgres

import (
	"strings"
	"testing"
)

// TestDurabilityProblems: only fsync off and synchronous_commit off are
// refused, each with its own fix; every value that waits for the local
// flush is accepted.
func TestDurabilityProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fsync, syncCommit string
		want              []string // a word of each problem, in order
	}{
		{"on", "on", nil},
		{"on", "local", nil},
		{"on", "remote_write", nil},
		{"on", "remote_apply", nil},
		{"off", "on", []string{"fsync = on"}},
		{"on", "off", []string{"synchronous_commit=on"}},
		{"off", "off", []string{"fsync = on", "synchronous_commit=on"}},
	} {
		got := durabilityProblems(tc.fsync, tc.syncCommit)
		if len(got) != len(tc.want) {
			t.Errorf("fsync %s, synchronous_commit %s: %q, want %d problems", tc.fsync, tc.syncCommit, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("fsync %s, synchronous_commit %s: problem %d is %q, want it to say %q", tc.fsync, tc.syncCommit, i, got[i], w)
			}
		}
	}
}
