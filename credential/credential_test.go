package credential_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
)

func TestNewPID(t *testing.T) {
	good := credential.PID{FamilyName: " 张 ", GivenName: "三", IDNumber: "44011519900307001X", BirthDate: "1990-03-07"}
	tests := []struct {
		name string
		edit func(*credential.PID)
		ok   bool
	}{
		{"good", func(*credential.PID) {}, true},
		{"no name", func(p *credential.PID) { p.FamilyName, p.GivenName = "", "" }, false},
		{"no ID number", func(p *credential.PID) { p.IDNumber = "" }, false},
		{"bad birth date", func(p *credential.PID) { p.BirthDate = "1990-02-30" }, false},
		{"bad expiry", func(p *credential.PID) { p.ExpiresOn = "2040" }, false},
		{"invalid UTF-8", func(p *credential.PID) { p.Address = "\xff" }, false},
		{"portrait not JPEG", func(p *credential.PID) { p.Portrait = []byte("\x89PNG") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			got, err := credential.NewPID(p)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, credential.ErrInvalidPID) {
				t.Errorf("err = %v, want ErrInvalidPID", err)
			}
			if tc.ok && (got.FamilyName != "张" || got.Country != "CN" || len(got.Nationality) != 1) {
				t.Errorf("normalised = %+v", got)
			}
		})
	}
}

func TestAgeAndProfiles(t *testing.T) {
	p, err := credential.NewPID(credential.PID{NameOriginal: "李四", IDNumber: "x", BirthDate: "2008-06-15"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, tc := range []struct {
		day string
		age int
		o18 bool
		o16 bool
		o60 bool
	}{
		{"2026-06-14", 17, false, true, false},
		{"2026-06-15", 18, true, true, false},
		{"2068-06-15", 60, true, true, true},
	} {
		if got := p.AgeAt(at(tc.day)); got != tc.age {
			t.Errorf("age on %s = %d, want %d", tc.day, got, tc.age)
		}
		attrs := map[string]any{}
		for _, a := range credential.ProfileCN.Attributes(p, at(tc.day)) {
			attrs[a.Key] = a.Value
		}
		if attrs["age_over_18"] != tc.o18 || attrs["age_over_16"] != tc.o16 || attrs["age_over_60"] != tc.o60 {
			t.Errorf("on %s: %v", tc.day, attrs)
		}
		if _, ok := attrs["family_name"]; ok {
			t.Error("empty family_name put on the card")
		}
	}
	// The EU profile has no ethnicity and uses the rulebook's names.
	for _, a := range credential.ProfileEU.Attributes(p, at("2026-06-15")) {
		if a.Key == "ethnicity" || a.Key == "name_original" {
			t.Errorf("EU profile carries %s", a.Key)
		}
		if a.Key == "id_number" && a.Mdoc != "personal_administrative_number" {
			t.Errorf("EU id_number is %s", a.Mdoc)
		}
	}
}

func TestAnchors(t *testing.T) {
	now := time.Now()
	iss, err := credtest.NewIssuer("anchors", now.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := credtest.NewIssuer("other", now.AddDate(0, 0, -1))
	a, err := credential.ParseAnchorsPEM(iss.RootPEM())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := a.Verify([][]byte{iss.Leaf.Raw}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Root.Equal(iss.Root) {
		t.Errorf("chain root %v, want %v", ch.Root.Subject, iss.Root.Subject)
	}
	// A two-certificate chain (leaf and root) is cached under its own key.
	if ch2, err := a.Verify([][]byte{iss.Leaf.Raw, iss.Root.Raw}, now); err != nil || ch2 == ch || !ch2.Root.Equal(iss.Root) {
		t.Errorf("leaf+root chain: %v", err)
	}
	// Cached: a second call at a time outside the leaf's validity fails.
	if _, err := a.Verify([][]byte{iss.Leaf.Raw}, now.AddDate(6, 0, 0)); !errors.Is(err, credential.ErrUntrusted) {
		t.Errorf("after expiry: %v", err)
	}
	if _, err := a.Verify([][]byte{other.Leaf.Raw}, now); !errors.Is(err, credential.ErrUntrusted) {
		t.Errorf("foreign chain: %v", err)
	}
	if _, err := a.Verify([][]byte{[]byte("junk")}, now); !errors.Is(err, credential.ErrMalformed) {
		t.Errorf("junk: %v", err)
	}
	if _, err := a.Verify(nil, now); !errors.Is(err, credential.ErrUntrusted) {
		t.Errorf("empty chain: %v", err)
	}
	if _, ok := a.ByKID(credential.KID(iss.Leaf.Raw)); ok {
		t.Error("issuer certificate known before AddIssuers")
	}
	a.AddIssuers(iss.Leaf)
	if der, ok := a.ByKID(credential.KID(iss.Leaf.Raw)); !ok || !bytes.Equal(der, iss.Leaf.Raw) {
		t.Error("issuer certificate not found by KID")
	}
	if _, err := credential.ParseAnchorsPEM([]byte("no pem")); err == nil {
		t.Error("ParseAnchorsPEM accepted no certificate")
	}
}

func TestThumbnail(t *testing.T) {
	_, thumb, err := credtest.Portrait()
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(thumb))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != credential.ThumbWidth || b.Dy() != credential.ThumbHeight {
		t.Errorf("thumbnail is %v", b)
	}
	if len(thumb) > 1200 {
		t.Errorf("thumbnail of %d bytes, want about 1 KB at most", len(thumb))
	}
	if _, err := credential.Thumbnail([]byte("not an image")); err == nil {
		t.Error("Thumbnail accepted garbage")
	}
}

func TestCardPortrait(t *testing.T) {
	// A large, wide, noisy scan (the worst case for JPEG size).
	src := image.NewRGBA(image.Rect(0, 0, 2400, 2000))
	seed := uint32(1)
	for i := range src.Pix {
		seed = seed*1664525 + 1013904223
		src.Pix[i] = byte(seed >> 24)
	}
	var big bytes.Buffer
	if err := png.Encode(&big, src); err != nil {
		t.Fatal(err)
	}
	small := image.NewRGBA(image.Rect(0, 0, 120, 200))
	var smallPNG bytes.Buffer
	if err := png.Encode(&smallPNG, small); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		in        []byte
		w, h, max int
	}{
		{"large scan scaled down and cropped to 3:4", big.Bytes(), credential.PortraitWidth, credential.PortraitHeight, 160 << 10},
		{"small portrait cropped, never scaled up", smallPNG.Bytes(), 120, 160, 16 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := credential.CardPortrait(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Errorf("portrait is %v, want %dx%d", b, tc.w, tc.h)
			}
			if len(out) > tc.max {
				t.Errorf("portrait of %d bytes, want at most %d", len(out), tc.max)
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("not an image")} {
		if _, err := credential.CardPortrait(bad); err == nil {
			t.Errorf("CardPortrait accepted %q", bad)
		}
	}
}

func TestCheckStatus(t *testing.T) {
	ref := &credential.StatusRef{URI: "u", Index: 1}
	s := &credtest.Status{}
	ctx := context.Background()
	for _, tc := range []struct {
		st  credential.Status
		err error
	}{
		{credential.StatusValid, nil},
		{credential.StatusInvalid, credential.ErrRevoked},
		{credential.StatusSuspended, credential.ErrSuspended},
		{3, credential.ErrStatus},
	} {
		s.Set("u", 1, tc.st)
		if err := credential.CheckStatus(ctx, s, ref); !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("status %d: %v, want %v", tc.st, err, tc.err)
		}
	}
	if err := credential.CheckStatus(ctx, nil, ref); !errors.Is(err, credential.ErrStatus) {
		t.Errorf("nil checker: %v", err)
	}
	if err := credential.CheckStatus(ctx, nil, nil); err != nil {
		t.Errorf("no reference: %v", err)
	}
}

func TestMemoryNonces(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &credential.MemoryNonces{TTL: time.Minute, Max: 2, Clock: func() time.Time { return now }}
	ctx := context.Background()
	if err := m.Consume(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := m.Consume(ctx, "a"); !errors.Is(err, credential.ErrReplay) {
		t.Fatalf("reuse: %v", err)
	}
	if err := m.Consume(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := m.Consume(ctx, "c"); !errors.Is(err, credential.ErrReplay) {
		t.Fatalf("full store accepted a value: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := m.Consume(ctx, "c"); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if err := m.Consume(ctx, "a"); err != nil {
		t.Fatalf("expired value: %v", err)
	}
}

// Every sentinel has its word; the status words are the entry package's;
// anything else is malformed.
func TestReason(t *testing.T) {
	want := map[error]string{
		credential.ErrRevoked: "revoked", credential.ErrSuspended: "suspended", credential.ErrStatus: "status",
		credential.ErrExpired: "expired", credential.ErrNotYetValid: "expired", credential.ErrUntrusted: "untrusted",
		credential.ErrSignature: "signature", credential.ErrDisclosure: "signature", credential.ErrHolderBinding: "holder-binding",
		credential.ErrNonce: "nonce", credential.ErrAudience: "nonce", credential.ErrStale: "nonce", credential.ErrReplay: "replay",
		credential.ErrMalformed: "malformed", credential.ErrTooLarge: "malformed", credential.ErrUnsupported: "malformed",
	}
	for _, s := range credential.Sentinels {
		w, ok := want[s]
		if !ok {
			t.Errorf("%v: no expected word in this test", s)
			continue
		}
		if got := credential.Reason(fmt.Errorf("wrapped: %w", s)); got != w {
			t.Errorf("Reason(%v) = %q, want %q", s, got, w)
		}
	}
	if got := credential.Reason(errors.New("other")); got != "malformed" {
		t.Errorf("Reason(other) = %q", got)
	}
}
