package auditlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// fullBundle is a full entry bundle whose leaves are "<tag>-<i>".
func fullBundle(t *testing.T, tag string) []byte {
	t.Helper()
	leaves := make([]lockbox.LogEntry, BundleSize)
	for i := range leaves {
		leaves[i] = lockbox.LogEntry{Index: int64(i), Data: fmt.Appendf(nil, "%s-%d", tag, i)}
	}
	b, err := EntryBundle(leaves)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFrameBundles: the server finds each bundle's end by its entries'
// lengths, and refuses bytes that are not whole bundles rather than send
// frames that would misplace every record after them.
func TestFrameBundles(t *testing.T) {
	t.Parallel()
	a, b := fullBundle(t, "a"), fullBundle(t, "bb")
	two := append(append([]byte{}, a...), b...)
	tests := []struct {
		name    string
		buf     []byte
		count   int64
		lengths []int
		err     string
	}{
		{"two bundles", two, 2, []int{len(a), len(b)}, ""},
		{"none", nil, 0, nil, ""},
		{"one announced, two held", two, 1, nil, "bytes after the bundles"},
		{"last entry cut", two[:len(two)-1], 2, nil, "last entry is cut"},
		{"bundle ends early", a[:len(a)/2], 1, nil, "a bundle ends at its entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			frames, err := frameBundles(nil, tt.buf, tt.count)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("frameBundles = %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for f := frames; len(f) > 0; f = f[frameHeader:] {
				got = append(got, int(binary.BigEndian.Uint32(f)))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.lengths) {
				t.Fatalf("frame lengths %v, want %v", got, tt.lengths)
			}
			// Written and read back, the frames are the bundles.
			var out bytes.Buffer
			if err := writeFrames(&out, frames, tt.buf); err != nil {
				t.Fatal(err)
			}
			var hdr [frameHeader]byte
			for i := range tt.count {
				data, err := readFrame(&out, hdr[:], nil)
				if err != nil || len(data) != tt.lengths[i] {
					t.Fatalf("frame %d read back: %d bytes, %v", i, len(data), err)
				}
			}
		})
	}
}

// TestReadFrameRefusesHugeLength: a frame announcing more than any bundle
// can hold is refused before anything is allocated for it.
func TestReadFrameRefusesHugeLength(t *testing.T) {
	t.Parallel()
	var hdr [frameHeader]byte
	in := binary.BigEndian.AppendUint32(nil, maxBundle+1)
	if _, err := readFrame(bytes.NewReader(in), hdr[:], nil); err == nil || !strings.Contains(err.Error(), "longer than any") {
		t.Fatalf("readFrame = %v, want a refusal", err)
	}
}
