package status_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/shenfen/shenfen/status"
)

// TestSpecExamples decodes the status lists printed in the Token Status
// List specification (draft-ietf-oauth-status-list, section 4 and
// appendix C; testdata/token-status-list-examples.json): the compressed
// lst must inflate to the printed bytes, the 1-bit list must read as the
// printed statuses, and every entry must read as the packing rule (least
// significant bits first) places it.
func TestSpecExamples(t *testing.T) {
	b, err := os.ReadFile("testdata/token-status-list-examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var examples []struct {
		Section, Lst, Bytes string
		Bits                int
		Statuses            []int
	}
	if err := json.Unmarshal(b, &examples); err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		z, err := base64.RawURLEncoding.DecodeString(ex.Lst)
		if err != nil {
			t.Fatal(err)
		}
		l, err := status.Decompress(z, ex.Bits, 1<<10)
		if err != nil {
			t.Fatalf("%s: %v", ex.Section, err)
		}
		want, _ := hex.DecodeString(ex.Bytes)
		if !bytes.Equal(l.Bytes(), want) {
			t.Fatalf("%s: inflated to %x, the spec prints %x", ex.Section, l.Bytes(), want)
		}
		per := 8 / ex.Bits
		if l.Len() != len(want)*per {
			t.Fatalf("%s: %d entries from %d bytes", ex.Section, l.Len(), len(want))
		}
		for i := range l.Len() {
			got, err := l.Get(i)
			packed := int(want[i/per]>>(uint(i%per)*uint(ex.Bits))) & (1<<ex.Bits - 1)
			if err != nil || int(got) != packed {
				t.Fatalf("%s: entry %d = %d (%v), packed %d", ex.Section, i, got, err, packed)
			}
			if ex.Statuses != nil && int(got) != ex.Statuses[i] {
				t.Fatalf("%s: entry %d = %d, the spec says %d", ex.Section, i, got, ex.Statuses[i])
			}
		}
	}
}
