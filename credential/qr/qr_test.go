package qr

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type fixture struct {
	iss     *credtest.Issuer
	holder  *credtest.Issuer
	compact []byte
	status  *credtest.Status
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	iss, err := credtest.NewIssuer("shenfen test", t0.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	hk := credtest.HolderKey()
	c, err := Issue(context.Background(), mdoc.IssueParams{PID: pid, Holder: &hk.PublicKey,
		Status:   &credential.StatusRef{URI: "https://id.shenfen.test/status/1", Index: 3},
		IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{iss: iss, holder: &credtest.Issuer{Key: hk}, compact: c, status: &credtest.Status{}}
}

func (f *fixture) verifier(now time.Time) *Verifier {
	a := f.iss.Anchors()
	a.AddIssuers(f.iss.Leaf)
	return &Verifier{Anchors: a, Status: f.status, Seen: &credtest.Nonces{}, Clock: func() time.Time { return now }}
}

func TestTimeModeThroughImage(t *testing.T) {
	f := newFixture(t)
	now := t0.Add(time.Hour)
	payload, err := Present(context.Background(), f.compact, nil, f.holder.Key, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := DecodeBase45(strings.TrimPrefix(payload, Prefix))
	t.Logf("QR payload: %d bytes compressed, %d characters", len(raw), len(payload))
	if len(raw) > 2331 || len(payload) > 3391 {
		t.Errorf("payload of %d bytes, %d characters does not fit a QR at level M", len(raw), len(payload))
	}
	img, err := Encode(payload, 4)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeImage(m)
	if err != nil {
		t.Fatal(err)
	}
	if got != payload {
		t.Fatal("QR image round trip changed the payload")
	}
	v := f.verifier(now.Add(20 * time.Second))
	res, err := v.Verify(context.Background(), got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Elements["name_original"] != "张三" || res.Elements["id_number"] != "44011519900307001X" {
		t.Errorf("elements = %v", res.Elements)
	}
	_, thumb, _ := credtest.Portrait()
	if !bytes.Equal(res.Thumbnail, thumb) {
		t.Error("thumbnail differs from the issued one")
	}
	if !res.SignedAt.Equal(now.Truncate(time.Second)) {
		t.Errorf("signed at %v", res.SignedAt)
	}
	// The same QR again (a photo of the screen) is refused.
	if _, err := v.Verify(context.Background(), got, nil); !errors.Is(err, credential.ErrReplay) {
		t.Errorf("second scan: %v, want ErrReplay", err)
	}
}

func TestNonceMode(t *testing.T) {
	f := newFixture(t)
	now := t0.Add(time.Hour)
	request, want := NewRequest()
	nonce, err := ParseRequest(request) // the wallet scans the verifier's QR
	if err != nil || !bytes.Equal(nonce, want) {
		t.Fatalf("request round trip: %x, %v", nonce, err)
	}
	if _, err := ParseRequest("SFR1:" + EncodeBase45([]byte("short"))); err == nil {
		t.Error("short nonce accepted")
	}
	payload, err := Present(context.Background(), f.compact, []string{"age_over_18", "portrait_thumbnail"}, f.holder.Key, nonce, now)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.verifier(now).Verify(context.Background(), payload, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if res.Elements["age_over_18"] != true || len(res.Elements) != 2 {
		t.Errorf("elements = %v", res.Elements)
	}
}

func TestHostile(t *testing.T) {
	f := newFixture(t)
	now := t0.Add(time.Hour)
	nonce := []byte("0123456789abcdef")
	timed, _ := Present(context.Background(), f.compact, nil, f.holder.Key, nil, now)
	nonced, _ := Present(context.Background(), f.compact, nil, f.holder.Key, nonce, now)
	tests := []struct {
		name    string
		payload string
		nonce   []byte
		at      time.Time
		status  credential.Status
		err     error
	}{
		{"screenshot after the window", timed, nil, now.Add(61 * time.Second), 0, credential.ErrStale},
		{"from the future", timed, nil, now.Add(-time.Minute), 0, credential.ErrStale},
		{"other verifier's nonce", nonced, []byte("fedcba9876543210"), now, 0, credential.ErrHolderBinding},
		{"nonce answer shown as time mode", nonced, nil, now, 0, credential.ErrHolderBinding},
		{"time mode answer to a nonce", timed, nonce, now, 0, credential.ErrHolderBinding},
		{"revoked", timed, nil, now, credential.StatusInvalid, credential.ErrRevoked},
		{"suspended", timed, nil, now, credential.StatusSuspended, credential.ErrSuspended},
		{"wrong prefix", "HC1:" + timed[4:], nil, now, 0, credential.ErrMalformed},
		{"bad base45", timed[:len(timed)-1] + "~", nil, now, 0, credential.ErrMalformed},
		{"zlib bomb", Prefix + EncodeBase45(zbomb()), nil, now, 0, credential.ErrTooLarge},
		{"not zlib", Prefix + EncodeBase45([]byte("plain CBOR")), nil, now, 0, credential.ErrMalformed},
		{"truncated", timed[:len(timed)-30], nil, now, 0, credential.ErrMalformed},
		{"issuer certificate not cached", timed, nil, now, 0, credential.ErrUntrusted},
		{"oversized", timed + strings.Repeat("0", MaxPayload), nil, now, 0, credential.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := f.verifier(tc.at)
			s := &credtest.Status{}
			s.Set("https://id.shenfen.test/status/1", 3, tc.status)
			v.Status = s
			if tc.err == credential.ErrUntrusted {
				v.Anchors = f.iss.Anchors()
			}
			_, err := v.Verify(context.Background(), tc.payload, tc.nonce)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestBase45(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"AB", "BB8"}, {"Hello!!", "%69 VD92EX0"}, {"base-45", "UJCLQE7W581"}, {"", ""},
	} {
		if got := EncodeBase45([]byte(tc.in)); got != tc.out {
			t.Errorf("encode %q = %q, want %q", tc.in, got, tc.out)
		}
		if got, err := DecodeBase45(tc.out); err != nil || string(got) != tc.in {
			t.Errorf("decode %q = %q, %v", tc.out, got, err)
		}
	}
	for _, bad := range []string{"A", "GGW", ":::", "ZZZZ", "ab0"} {
		if _, err := DecodeBase45(bad); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}

func zbomb() []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(make([]byte, 1<<20))
	w.Close()
	return b.Bytes()
}

// TestPrepareFinish is the browser-wallet path: the device key signs the
// ToBeSigned outside Go (here with the raw ecdsa API).
func TestPrepareFinish(t *testing.T) {
	f := newFixture(t)
	now := t0.Add(time.Hour)
	u, err := Prepare(f.compact, []string{"age_over_18", "portrait_thumbnail"}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(u.ToBeSigned())
	r, s, _ := ecdsa.Sign(rand.Reader, f.holder.Key, h[:])
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	payload, err := Finish(u, sig)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.verifier(now).Verify(context.Background(), payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Elements["age_over_18"] != true {
		t.Errorf("elements = %v", res.Elements)
	}
}
