package entry_test

import (
	"testing"

	"github.com/shenfen/shenfen/status/entry"
)

func TestWordsAndParse(t *testing.T) {
	for _, c := range []struct {
		in         string
		want       entry.Status
		name, word string
	}{
		{"valid", entry.Valid, "valid", "valid"},
		{"invalid", entry.Invalid, "invalid", "revoked"},
		{"revoked", entry.Invalid, "invalid", "revoked"},
		{"suspended", entry.Suspended, "suspended", "suspended"},
	} {
		s, err := entry.Parse(c.in)
		if err != nil || s != c.want || s.String() != c.name || s.Word() != c.word {
			t.Errorf("Parse(%q) = %v (%q, %q), %v; want %v (%q, %q)", c.in, s, s.String(), s.Word(), err, c.want, c.name, c.word)
		}
	}
	for _, bad := range []string{"", "Valid", "0", "expired"} {
		if _, err := entry.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if w := entry.Status(3).Word(); w != "status" {
		t.Errorf("undefined value 3: word %q, want status", w)
	}
	// The on-the-wire values of the draft.
	if entry.Valid != 0 || entry.Invalid != 1 || entry.Suspended != 2 {
		t.Error("status values differ from draft-ietf-oauth-status-list")
	}
}
