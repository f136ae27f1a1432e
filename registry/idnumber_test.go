package registry

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestParseIDNumber(t *testing.T) {
	tests := []struct {
		in      string
		want    IDNumber
		err     error
		message string
	}{
		{"11010519491231002X", "11010519491231002X", nil, ""}, // the standard's own example
		{"11010519491231002x", "11010519491231002X", nil, ""},
		{" 440524188001010014 ", "440524188001010014", nil, ""}, // GB 11643-1999 example
		{"440115199003071232", "", ErrIDChecksum, "is 2, the digits give 8"},
		{"44011519900307123", "", ErrIDFormat, "17 characters"},
		{"440115900307123", "", ErrIDFormat, "15-digit"},
		{"4401151990030712a4", "", ErrIDFormat, "character 17 is not a digit"},
		{"44011519900307123Y", "", ErrIDFormat, "character 18"},
		{"990115199003071232", "", ErrIDAddress, "99 is not a province"},
		{"440000199003071232", "", ErrIDAddress, "names a province"},
		{"440115199002301237", "", ErrIDBirthDate, "19900230 is not a calendar date"},
		{"440115184912311232", "", ErrIDBirthDate, "before 1850"},
		{"440115202711231232", "", ErrIDBirthDate, "in the future"},
		{"440115199003070003", "", ErrIDFormat, "sequence number 000"},
		{"", "", ErrIDFormat, "0 characters"},
		{"４４０１１５１９９０", "", ErrIDFormat, "characters, want 18"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIDNumber(tc.in, testNow)
			if tc.err == nil {
				if err != nil || got != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalidID) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("error %q does not say %q", err, tc.message)
			}
		})
	}
}

func TestIDNumberParts(t *testing.T) {
	id, err := ParseIDNumber("11010519491231002X", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if id.Sex() != Female || id.AddressCode() != "110105" || !id.BirthDate().Equal(time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("parts: %s %s %v", id.Sex(), id.AddressCode(), id.BirthDate())
	}
	if id.Masked() != "110105***********X" {
		t.Fatalf("masked %q", id.Masked())
	}
	m, err := MakeIDNumber("440115", time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC), 123)
	if err != nil || m.Sex() != Male {
		t.Fatalf("MakeIDNumber = %q, %v", m, err)
	}
	if _, err := ParseIDNumber(string(m), testNow); err != nil {
		t.Fatalf("made number does not parse: %v", err)
	}
	for _, bad := range []struct {
		addr string
		seq  int
	}{{"44011", 1}, {"44011a", 1}, {"440115", 0}, {"440115", 1000}} {
		if _, err := MakeIDNumber(bad.addr, time.Now(), bad.seq); err == nil {
			t.Errorf("MakeIDNumber(%q, %d) accepted", bad.addr, bad.seq)
		}
	}
}

// Every single-digit typing error is caught by the check character.
func TestCheckCharCatchesSingleErrors(t *testing.T) {
	const good = "440115199003071238"
	if _, err := ParseIDNumber(good, testNow); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 17; i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == good[i] {
				continue
			}
			s := good[:i] + string(d) + good[i+1:]
			if _, err := ParseIDNumber(s, testNow); err == nil {
				t.Fatalf("%s (digit %d changed) accepted", s, i+1)
			}
		}
	}
}

func FuzzParseIDNumber(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "440115199003071238", "440115199002301237", "", "x", "44011519900307123\xff", "４４０"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIDNumber(s, testNow)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("error %v does not wrap ErrInvalidID", err)
			}
			return
		}
		// Accepted numbers are canonical, round-trip, and self-consistent.
		if len(id) != 18 || strings.Contains(string(id), "x") {
			t.Fatalf("non-canonical %q", id)
		}
		again, err := ParseIDNumber(string(id), testNow)
		if err != nil || again != id {
			t.Fatalf("canonical form does not re-parse: %v", err)
		}
		if CheckChar(string(id[:17])) != id[17] {
			t.Fatal("bad check character accepted")
		}
		if id.BirthDate().After(testNow) || id.BirthDate().Before(earliestBirth) {
			t.Fatal("bad birth date accepted")
		}
		if m, err := MakeIDNumber(id.AddressCode(), id.BirthDate(), int(id[14]-'0')*100+int(id[15]-'0')*10+int(id[16]-'0')); err != nil || m != id {
			t.Fatalf("MakeIDNumber rebuilds %q, %v", m, err)
		}
	})
}
