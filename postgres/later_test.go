package postgres

import (
	"slices"
	"testing"
)

// TestLaterMergesWholeRowWrites: a member's second whole-row write of the
// row its last waiting write sets replaces that write, keeping the first's
// guard; any other write waits beside the others, in order.
func TestLaterMergesWholeRowWrites(t *testing.T) {
	t.Parallel()
	// args: the state written, then the version it expects.
	write := func(row string, state string, from int) laterWrite {
		return laterWrite{op: "update " + row, sql: "UPDATE", args: []any{state, from}, row: row, guard: 1}
	}
	other := laterWrite{op: "other", sql: "OTHER", args: []any{"x", 0}}
	tests := []struct {
		name   string
		writes []laterWrite
		want   [][]any // args of the writes left waiting
	}{
		{"one write", []laterWrite{write("r1", "approved", 3)}, [][]any{{"approved", 3}}},
		{"the same row twice", []laterWrite{write("r1", "approved", 3), write("r1", "active", 4)},
			[][]any{{"active", 3}}},
		{"three times", []laterWrite{write("r1", "a", 3), write("r1", "b", 4), write("r1", "c", 5)},
			[][]any{{"c", 3}}},
		{"two rows", []laterWrite{write("r1", "approved", 3), write("r2", "active", 7)},
			[][]any{{"approved", 3}, {"active", 7}}},
		{"not after another row's", []laterWrite{write("r1", "a", 3), write("r2", "b", 7), write("r1", "c", 4)},
			[][]any{{"a", 3}, {"b", 7}, {"c", 4}}},
		{"not a write of no row", []laterWrite{other, other}, [][]any{{"x", 0}, {"x", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &memberQuerier{}
			for _, w := range tt.writes {
				w.args = slices.Clone(w.args)
				q.later(w)
			}
			var got [][]any
			for _, w := range q.writes {
				got = append(got, w.args)
			}
			if !slices.EqualFunc(got, tt.want, func(a, b []any) bool { return slices.Equal(a, b) }) {
				t.Errorf("waiting writes = %v, want %v", got, tt.want)
			}
		})
	}
}
