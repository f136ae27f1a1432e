package operator

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReason(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Reason
		ok   bool
	}{
		{"purpose=counter-service", Reason{Purpose: "counter-service"}, true},
		{"case=2026-NS-0042", Reason{Case: "2026-NS-0042"}, true},
		{" purpose = court-order ; case=(2026)GZ-01 ", Reason{Purpose: "court-order", Case: "(2026)GZ-01"}, true},
		{"", Reason{}, false},
		{";;", Reason{}, false},
		{"because", Reason{}, false},
		{"purpose=curiosity", Reason{}, false},
		{"purpose=", Reason{}, false},
		{"case=", Reason{}, false},
		{"case=a b", Reason{}, false},
		{"case=案号", Reason{}, false},
		{"case=" + strings.Repeat("1", 65), Reason{}, false},
		{"purpose=lost-card; purpose=lost-card", Reason{}, false},
		{"PURPOSE=lost-card", Reason{}, false},
		{"purpose=lost-card; who=me", Reason{}, false},
	} {
		got, err := ParseReason(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseReason(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrNoReason) {
			t.Errorf("ParseReason(%q): %v is not ErrNoReason", tc.in, err)
		}
		if err == nil {
			if again, err := ParseReason(got.String()); err != nil || again != got {
				t.Errorf("round trip of %q: %+v %v", tc.in, again, err)
			}
		}
	}
}

func FuzzParseReason(f *testing.F) {
	for _, s := range []string{"purpose=counter-service", "case=1; purpose=lost-card", "a=b=c", ";", "case=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReason(s)
		if err != nil {
			return
		}
		if r.Purpose == "" && r.Case == "" {
			t.Fatalf("%q: accepted an empty reason", s)
		}
		if again, err := ParseReason(r.String()); err != nil || again != r {
			t.Fatalf("%q: round trip %+v -> %+v %v", s, r, again, err)
		}
	})
}

func TestSecrets(t *testing.T) {
	SecretIterations = 1000
	defer func() { SecretIterations = 600_000 }()
	s := NewSecret()
	h, err := HashSecret(s)
	if err != nil || !strings.HasPrefix(h, "pbkdf2-sha256$1000$") {
		t.Fatalf("hash %q %v", h, err)
	}
	if err := CheckSecret(h, s); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	for _, bad := range []struct{ hash, secret string }{
		{h, s + "x"}, {h, ""}, {"", s}, {"plain$1$aa$bb", s}, {"pbkdf2-sha256$0$aa$bb", s},
		{"pbkdf2-sha256$1000$!!$bb", s}, {strings.Replace(h, "$1000$", "$1001$", 1), s},
	} {
		if err := CheckSecret(bad.hash, bad.secret); !errors.Is(err, ErrBadSecret) {
			t.Errorf("CheckSecret(%q, %q) = %v, want ErrBadSecret", bad.hash, bad.secret, err)
		}
	}
	h2, _ := HashSecret(s)
	if h2 == h {
		t.Error("two hashes of one secret are equal (no salt)")
	}
}

func TestPolicy(t *testing.T) {
	p := DefaultPolicy()
	if !p.NeedsApproval([]Role{CardOfficer}, CardStatus) {
		t.Error("default: a card officer revokes alone")
	}
	p.Alone = []Role{CardOfficer}
	if p.NeedsApproval([]Role{CardOfficer}, CardStatus) || !p.NeedsApproval([]Role{RegistryClerk}, RecordStatus) {
		t.Error("Alone not applied per role")
	}
	if _, err := ParseRoles("registry-reader, root"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown role: %v", err)
	}
	if r, err := ParseRoles("auditor,auditor"); err != nil || len(r) != 1 {
		t.Errorf("duplicate role: %v %v", r, err)
	}
}
