// Command qr is the Go half of the offline QR interop test between
// package credential/qr and the browser modules web/static/web/mdocqr.js
// (wallet and verifier page), run by scripts/test.d/qr-js.sh:
//
//	go run ./interop/qr -dir DIR -make    issue cards, make Go payloads: DIR/go.json
//	go run ./interop/qr -dir DIR -check   verify the wallet module's payloads: DIR/js.json
//
// The cards come from the product path: a key ring (file provider, IACA
// root and document signer), the status service on SQLite, qr.Issue; the
// verifier sees what the trust API publishes (the JSON trust list, the
// signed status list tokens).
package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
)

const issuer = "https://id.shenfen.test"

// Case is one payload and what a verifier must conclude: "ok" or the
// reason it refuses it (mdocqr.js QRError codes; Go checks the sentinel).
type Case struct {
	Name    string `json:"name"`
	Payload string `json:"payload"`
	Nonce   string `json:"nonce,omitempty"` // hex
	Want    string `json:"want"`
}

// File is what each side writes for the other.
type File struct {
	Cases []Case `json:"cases"`
}

func main() {
	dir := flag.String("dir", "", "work directory")
	mk := flag.Bool("make", false, "issue the cards and make Go payloads")
	check := flag.Bool("check", false, "verify the wallet module's payloads")
	flag.Parse()
	var err error
	switch {
	case *dir == "":
		err = errors.New("want -dir")
	case *mk:
		err = makeAll(context.Background(), *dir)
	case *check:
		err = checkJS(context.Background(), *dir)
	default:
		err = errors.New("want -make or -check")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop/qr:", err)
		os.Exit(1)
	}
}

func openRing(ctx context.Context, dir string) (*keys.Ring, error) {
	sl, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{0x5a}, 32)})
	if err != nil {
		return nil, err
	}
	return keys.Open(ctx, dir, keys.NewFileProvider(dir, sl), keys.Config{Issuer: issuer})
}

// portrait is a synthetic 300x400 JPEG (the format test needs no face).
func portrait() ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, 300, 400))
	for y := 0; y < 400; y++ {
		for x := 0; x < 300; x++ {
			dx, dy := x-150, y-170
			v := uint8(40 + (x*y)%90)
			if dx*dx+dy*dy*2/3 < 90*90 {
				v = uint8(180 + (x+y)%60)
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var b bytes.Buffer
	err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
	return b.Bytes(), err
}

func pid() (credential.PID, error) {
	p, err := portrait()
	if err != nil {
		return credential.PID{}, err
	}
	t, err := credential.Thumbnail(p)
	if err != nil {
		return credential.PID{}, err
	}
	return credential.NewPID(credential.PID{
		FamilyName: "张", GivenName: "三", NameOriginal: "张三", Sex: credential.SexMale, BirthDate: "1990-03-07",
		IDNumber: "44011519900307001X", Authority: "广州市公安局南沙分局", Country: "CN",
		IssuedOn: "2020-01-01", ExpiresOn: "2040-01-01", Portrait: p, Thumbnail: t,
	})
}

func makeAll(ctx context.Context, dir string) error {
	ring, err := openRing(ctx, filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	other, err := openRing(ctx, filepath.Join(dir, "other-keys")) // an issuer nobody trusts
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(dir, "status.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	svc := status.NewService(db.Status(), ring, issuer+"/status")
	var refs [4]status.Ref
	for i := range refs {
		if refs[i], err = svc.Allocate(ctx); err != nil {
			return err
		}
	}
	if _, err := svc.Set(ctx, refs[2], status.Invalid); err != nil {
		return err
	}
	// Two-bit lists: a suspended card reads as suspended, not revoked.
	if _, err := svc.Set(ctx, refs[3], status.Suspended); err != nil {
		return err
	}
	p, err := pid()
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	issue := func(r *keys.Ring, holder *ecdsa.PublicKey, ref status.Ref, from, until time.Time) ([]byte, error) {
		signer, chain, err := r.Chain(ctx)
		if err != nil {
			return nil, err
		}
		return qr.Issue(ctx, mdoc.IssueParams{PID: p, Holder: holder, Status: &credential.StatusRef{URI: ref.URI, Index: ref.Index},
			IssuedAt: from, ExpiresAt: until, Signer: signer, Chain: chain})
	}

	// The wallet module's card, bound to its WebCrypto key.
	var jwk struct{ X, Y string }
	b, err := os.ReadFile(filepath.Join(dir, "device.pub.jwk"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &jwk); err != nil {
		return err
	}
	x, _ := base64.RawURLEncoding.DecodeString(jwk.X)
	y, _ := base64.RawURLEncoding.DecodeString(jwk.Y)
	walletKey, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return fmt.Errorf("wallet key: %w", err)
	}
	card, err := issue(ring, walletKey, refs[0], now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "wallet-card.b64"), []byte(base64.RawURLEncoding.EncodeToString(card)), 0o600); err != nil {
		return err
	}

	// Go-made payloads for the page's verifier.
	holder := credtest.HolderKey()
	good, err := issue(ring, &holder.PublicKey, refs[1], now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		return err
	}
	revoked, err := issue(ring, &holder.PublicKey, refs[2], now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		return err
	}
	suspended, err := issue(ring, &holder.PublicKey, refs[3], now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		return err
	}
	expired, err := issue(ring, &holder.PublicKey, refs[1], now.Add(-48*time.Hour), now.Add(-time.Hour))
	if err != nil {
		return err
	}
	foreign, err := issue(other, &holder.PublicKey, refs[1], now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		return err
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	var f File
	add := func(name string, compact []byte, n []byte, at time.Time, want string) (string, error) {
		s, err := qr.Present(ctx, compact, nil, holder, n, at)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		f.Cases = append(f.Cases, Case{Name: name, Payload: s, Nonce: hex.EncodeToString(n), Want: want})
		return s, nil
	}
	timed, err := add("go time mode", good, nil, now, "ok")
	if err != nil {
		return err
	}
	if _, err := add("go nonce mode", good, nonce, now, "ok"); err != nil {
		return err
	}
	other16 := bytes.Repeat([]byte{7}, 16)
	if _, err := add("go nonce mode, another nonce", good, nonce, now, "holder-binding"); err != nil {
		return err
	}
	f.Cases[len(f.Cases)-1].Nonce = hex.EncodeToString(other16)
	if _, err := add("go stale (signed 5 minutes ago)", good, nil, now.Add(-5*time.Minute), "stale"); err != nil {
		return err
	}
	if _, err := add("go expired card", expired, nil, now, "expired"); err != nil {
		return err
	}
	if _, err := add("go revoked card", revoked, nil, now, "revoked"); err != nil {
		return err
	}
	if _, err := add("go suspended card", suspended, nil, now, "suspended"); err != nil {
		return err
	}
	if _, err := add("go card of an untrusted issuer", foreign, nil, now, "untrusted"); err != nil {
		return err
	}
	tampered, err := tamperThumbnail(timed)
	if err != nil {
		return err
	}
	f.Cases = append(f.Cases, Case{Name: "go tampered thumbnail", Payload: tampered, Want: "disclosure"})

	// What the trust API publishes.
	tl, _ := json.MarshalIndent(ring.TrustList(now), "", " ")
	lists := map[string]string{}
	id, _ := svc.ListID(refs[0].URI)
	tok, err := svc.Token(ctx, id)
	if err != nil {
		return err
	}
	lists[refs[0].URI] = tok.Token
	sl, _ := json.MarshalIndent(lists, "", " ")
	root := sha256.Sum256(ring.Root().Raw)
	for name, data := range map[string][]byte{
		"trust-list.json": tl, "status.json": sl, "anchors.pem": ring.TrustPEM(now),
		"root.sha256": []byte(hex.EncodeToString(root[:])),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	out, _ := json.MarshalIndent(f, "", " ")
	fmt.Printf("interop/qr: Go issued the wallet's card and made %d payloads (time mode: %d characters)\n", len(f.Cases), len(timed))
	return os.WriteFile(filepath.Join(dir, "go.json"), out, 0o600)
}

// tamperThumbnail changes one byte inside the issuer-signed thumbnail of a
// payload and re-encodes it: the item no longer matches its MSO digest.
func tamperThumbnail(payload string) (string, error) {
	resp, err := qr.Decode(payload)
	if err != nil {
		return "", err
	}
	i := bytes.Index(resp, []byte{0xff, 0xd8, 0xff})
	if i < 0 {
		return "", errors.New("no thumbnail in the payload")
	}
	resp = bytes.Clone(resp)
	resp[i+200] ^= 0x20
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(resp)
	w.Close()
	return qr.Prefix + qr.EncodeBase45(z.Bytes()), nil
}

// checkJS verifies the wallet module's payloads as `shenfen verify` does:
// the trust PEM (root and cached document signers), the signed status
// list tokens, a fresh replay memory per verifier.
func checkJS(ctx context.Context, dir string) error {
	pemBytes, err := os.ReadFile(filepath.Join(dir, "anchors.pem"))
	if err != nil {
		return err
	}
	anchors, err := credential.ParseAnchorsPEM(pemBytes)
	if err != nil {
		return err
	}
	checker := &status.Checker{Key: status.ChainKeys(anchors.Roots()...)}
	var lists map[string]string
	b, err := os.ReadFile(filepath.Join(dir, "status.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &lists); err != nil {
		return err
	}
	for uri, tok := range lists {
		if err := checker.Add(uri, []byte(tok)); err != nil {
			return err
		}
	}
	st := credential.StatusFunc(func(ctx context.Context, uri string, i int) (credential.Status, error) {
		s, err := checker.Status(ctx, uri, i)
		return credential.Status(s), err
	})
	var f File
	if b, err = os.ReadFile(filepath.Join(dir, "js.json")); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if len(f.Cases) == 0 {
		return errors.New("no payloads from the wallet module")
	}
	seen := &credtest.Nonces{}
	for _, c := range f.Cases {
		n, err := hex.DecodeString(c.Nonce)
		if err != nil {
			return err
		}
		if len(n) == 0 {
			n = nil
		}
		v := &qr.Verifier{Anchors: anchors, Status: st, Seen: seen}
		res, err := v.Verify(ctx, c.Payload, n)
		switch {
		case c.Want == "ok" && err != nil:
			return fmt.Errorf("%s: refused: %w", c.Name, err)
		case c.Want == "ok":
			if id, ok := res.Elements["id_number"]; len(res.Thumbnail) == 0 || ok && id != "44011519900307001X" || !ok && res.Elements["age_over_18"] != true {
				return fmt.Errorf("%s: id_number %v, age_over_18 %v, thumbnail %d bytes", c.Name, id, res.Elements["age_over_18"], len(res.Thumbnail))
			}
			// The same code a second time is a replay.
			if _, err := v.Verify(ctx, c.Payload, n); !errors.Is(err, credential.ErrReplay) {
				return fmt.Errorf("%s: shown twice: %v, want a replay", c.Name, err)
			}
		case err == nil:
			return fmt.Errorf("%s: accepted, want %s", c.Name, c.Want)
		case !errors.Is(err, sentinel(c.Want)):
			return fmt.Errorf("%s: %v, want %s", c.Name, err, c.Want)
		}
		fmt.Printf("interop/qr: Go verifier on %-40s %s\n", c.Name+":", outcome(err))
	}
	return nil
}

func outcome(err error) string {
	if err != nil {
		return "refused (" + err.Error() + ")"
	}
	return "accepted"
}

// sentinel maps the browser module's reason codes to Go's errors.
func sentinel(code string) error {
	switch code {
	case "disclosure":
		return credential.ErrDisclosure
	case "holder-binding":
		return credential.ErrHolderBinding
	case "stale":
		return credential.ErrStale
	case "expired":
		return credential.ErrExpired
	case "revoked":
		return credential.ErrRevoked
	case "suspended":
		return credential.ErrSuspended
	case "untrusted":
		return credential.ErrUntrusted
	case "malformed":
		return credential.ErrMalformed
	case "signature":
		return credential.ErrSignature
	}
	return fmt.Errorf("unknown reason %q", code)
}
