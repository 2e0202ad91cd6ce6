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

// TestFrames: bundles written as frames read back as the same bundles,
// and a stream cut inside a frame is an error, not a shorter bundle.
func TestFrames(t *testing.T) {
	t.Parallel()
	a, b := fullBundle(t, "a"), fullBundle(t, "bb")
	var out bytes.Buffer
	if err := writeFrames(&out, []int{len(a), len(b)}, append(append([]byte{}, a...), b...)); err != nil {
		t.Fatal(err)
	}
	stream := out.Bytes()
	var hdr [frameHeader]byte
	r := bytes.NewReader(stream)
	for i, want := range [][]byte{a, b} {
		got, err := readFrame(r, hdr[:], nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, %v; want the %d of the bundle", i, len(got), err, len(want))
		}
	}
	if _, err := readFrame(bytes.NewReader(stream[:len(stream)-1]), hdr[:], nil); err != nil {
		t.Fatalf("first frame of a cut stream: %v", err)
	}
	r = bytes.NewReader(stream[:len(stream)-1])
	_, _ = readFrame(r, hdr[:], nil)
	if _, err := readFrame(r, hdr[:], nil); err == nil {
		t.Fatal("a frame cut short was read as a bundle")
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
