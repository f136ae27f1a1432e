// Command status is the Go half of the Token Status List interop test with
// the independent @sd-jwt/jwt-status-list implementation (npm).
//
//	go run ./interop/status -dir DIR -make    shenfen issues lists: DIR/ours.json
//	go run ./interop/status -dir DIR -check   shenfen verifies theirs: DIR/theirs.json
//
// The lists are made by the product path: a key ring (file provider, IACA
// root and document signer), the status service on SQLite, allocation,
// suspension, revocation and reinstatement, and the signed, cached tokens.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
)

// Case is one token with the statuses a reader must find in it.
type Case struct {
	URI      string         `json:"uri"`
	Token    string         `json:"token"`
	Bits     int            `json:"bits"`
	Size     int            `json:"size"`
	Expected map[string]int `json:"expected"` // index -> status
	// JWK is the signer's public key (theirs only); ours carry x5c.
	JWK map[string]string `json:"jwk,omitempty"`
}

// File is what each side writes for the other.
type File struct {
	RootPEM string `json:"root_pem,omitempty"`
	Cases   []Case `json:"cases"`
}

func main() {
	dir := flag.String("dir", "", "work directory")
	mk := flag.Bool("make", false, "issue shenfen's lists")
	check := flag.Bool("check", false, "verify the other implementation's lists")
	flag.Parse()
	var err error
	switch {
	case *mk:
		err = make_(context.Background(), *dir)
	case *check:
		err = checkTheirs(*dir)
	default:
		err = errors.New("want -make or -check")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop/status:", err)
		os.Exit(1)
	}
}

func make_(ctx context.Context, dir string) error {
	sl, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{0x5a}, 32)})
	if err != nil {
		return err
	}
	kd := filepath.Join(dir, "keys")
	ring, err := keys.Open(ctx, kd, keys.NewFileProvider(kd, sl), keys.Config{Issuer: "https://id.shenfen.test"})
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(dir, "status.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	out := File{RootPEM: string(ring.AnchorsPEM())}
	// 1 and 2 bits configured, then the default (0: status.DefaultBits, 2).
	for _, configured := range []int{1, 2, 0} {
		svc := status.NewService(db.Status(), ring, "https://id.shenfen.test/status")
		svc.Bits = configured
		bits := configured
		if bits == 0 {
			bits = status.DefaultBits
		}
		if bits == 2 {
			svc.ShardSize = 10000
		}
		var refs []status.Ref
		for i := 0; i < 300; i++ {
			r, err := svc.Allocate(ctx)
			if err != nil {
				return err
			}
			refs = append(refs, r)
		}
		want := map[status.Ref]status.Status{}
		for i, r := range refs {
			var s status.Status
			switch i % 5 {
			case 1:
				s = status.Invalid
			case 2:
				s = status.Suspended
			case 3: // suspended then reinstated
				if err := svc.Suspend(ctx, r); err != nil {
					return err
				}
				if err := svc.Reinstate(ctx, r); err != nil {
					return err
				}
			}
			if s != status.Valid {
				if _, err := svc.Set(ctx, r, s); err != nil {
					return err
				}
			}
			if bits == 1 && s == status.Suspended {
				s = status.Invalid
			}
			want[r] = s
		}
		id, _ := svc.ListID(refs[0].URI)
		tok, err := svc.Token(ctx, id)
		if err != nil {
			return err
		}
		info, _ := db.Status().StatusList(ctx, id)
		c := Case{URI: refs[0].URI, Token: tok.Token, Bits: bits, Size: info.Size, Expected: map[string]int{}}
		for r, s := range want {
			c.Expected[fmt.Sprint(r.Index)] = int(s)
		}
		out.Cases = append(out.Cases, c)
	}
	b, _ := json.MarshalIndent(out, "", " ")
	fmt.Printf("interop/status: shenfen issued %d lists (1-bit of %d entries, 2-bit of %d, default %d-bit)\n", len(out.Cases), out.Cases[0].Size, out.Cases[1].Size, out.Cases[2].Bits)
	return os.WriteFile(filepath.Join(dir, "ours.json"), b, 0o600)
}

func checkTheirs(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "theirs.json"))
	if err != nil {
		return err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if len(f.Cases) == 0 {
		return errors.New("no lists from the other side")
	}
	for _, c := range f.Cases {
		pub, err := jwkKey(c.JWK)
		if err != nil {
			return err
		}
		keyFor := func(jws.Header, time.Time) (*ecdsa.PublicKey, error) { return pub, nil }
		tok, err := status.ParseToken([]byte(c.Token), keyFor, time.Now(), status.Limits{})
		if err != nil {
			return fmt.Errorf("their %d-bit list: %w", c.Bits, err)
		}
		if err := tok.Check(c.URI, time.Now(), time.Minute); err != nil {
			return fmt.Errorf("their %d-bit list: %w", c.Bits, err)
		}
		if tok.List.Bits() != c.Bits || tok.List.Len() < c.Size {
			return fmt.Errorf("their list: %d bits, %d entries; want %d, %d", tok.List.Bits(), tok.List.Len(), c.Bits, c.Size)
		}
		for is, want := range c.Expected {
			var i int
			fmt.Sscan(is, &i)
			got, err := tok.List.Get(i)
			if err != nil || int(got) != want {
				return fmt.Errorf("their %d-bit list, index %d: %v (%v), want %d", c.Bits, i, got, err, want)
			}
		}
		// A flipped signature must fail.
		bad := []byte(c.Token)
		bad[len(bad)-3] ^= 0x01
		if _, err := status.ParseToken(bad, keyFor, time.Now(), status.Limits{}); err == nil {
			return fmt.Errorf("their %d-bit list: accepted with a damaged signature", c.Bits)
		}
		fmt.Printf("interop/status: shenfen verified their %d-bit list (%d entries, %d checked)\n", c.Bits, tok.List.Len(), len(c.Expected))
	}
	return nil
}

func jwkKey(j map[string]string) (*ecdsa.PublicKey, error) {
	if j["kty"] != "EC" || j["crv"] != "P-256" {
		return nil, fmt.Errorf("JWK %v is not a P-256 key", j)
	}
	x, err1 := base64.RawURLEncoding.DecodeString(j["x"])
	y, err2 := base64.RawURLEncoding.DecodeString(j["y"])
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad JWK coordinates")
	}
	pt := append([]byte{4}, append(x, y...)...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, err
	}
	return pub, nil
}
