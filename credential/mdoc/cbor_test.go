package mdoc

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/shenfen/shenfen/credential"
)

// TestDeviceAuthenticationBytes compares the directly written
// DeviceAuthenticationBytes with the library's deterministic encoding, for
// lengths that need every head size.
func TestDeviceAuthenticationBytes(t *testing.T) {
	for _, n := range []int{0, 23, 24, 255, 256, 70000} {
		st, _ := encMode.Marshal([]any{nil, nil, []any{"OpenID4VPHandover", bytes.Repeat([]byte{7}, n)}})
		docType := strings.Repeat("d", n)
		dns, _ := tag24(map[string]map[string]any{"ns": {"k": strings.Repeat("v", n)}})
		got, err := deviceAuthenticationBytes(st, docType, dns)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := tag24([]any{"DeviceAuthentication", cbor.RawMessage(st), docType, cbor.RawMessage(dns)})
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: DeviceAuthenticationBytes differ from the deterministic encoding", n)
		}
	}
	if _, err := deviceAuthenticationBytes([]byte{0x82, 0x01}, "d", []byte{0xa0}); err == nil {
		t.Error("truncated session transcript accepted")
	}
}

func TestBstrContent(t *testing.T) {
	for _, n := range []uint64{0, 23, 24, 255, 256, 65535, 65536} {
		enc, _ := encMode.Marshal(make([]byte, n))
		if h := appendHead(nil, majorBytes, n); !bytes.Equal(h, enc[:len(h)]) || len(h) != headLen(int(n)) {
			t.Fatalf("head of %d: %x", n, h)
		}
		b, err := bstrContent(enc, "x")
		if err != nil || uint64(len(b)) != n {
			t.Fatalf("bstrContent(%d bytes): %d, %v", n, len(b), err)
		}
	}
	for name, in := range map[string][]byte{
		"empty":          nil,
		"text":           {0x61, 'a'},
		"indefinite":     {0x5f, 0x41, 0x00, 0xff},
		"truncated head": {0x59, 0x01},
		"short":          {0x43, 0x00},
		"trailing":       {0x41, 0x00, 0x00},
		"reserved":       {0x5c},
		"huge length":    {0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := bstrContent(in, "x"); !errors.Is(err, credential.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := untag24([]byte{0xd8, 0x18, 0x41}, "x"); !errors.Is(err, credential.ErrMalformed) {
		t.Errorf("truncated tag 24: %v", err)
	}
}

func TestDigestMap(t *testing.T) {
	good := map[uint64][]byte{0: {1}, 7: bytes.Repeat([]byte{2}, 32), 1 << 40: {}}
	enc, _ := encMode.Marshal(good)
	var d digestMap
	if err := unmarshal(enc, &d, "x"); err != nil {
		t.Fatal(err)
	}
	if len(d) != 3 || !bytes.Equal(d[7], good[7]) || d[1<<40] == nil {
		t.Fatalf("decoded %v", d)
	}
	for name, in := range map[string][]byte{
		"duplicate ID":   {0xa2, 0x01, 0x41, 0x00, 0x01, 0x41, 0x01},
		"negative ID":    {0xa1, 0x20, 0x41, 0x00},
		"text ID":        {0xa1, 0x61, 'a', 0x41, 0x00},
		"text digest":    {0xa1, 0x01, 0x61, 'a'},
		"not a map":      {0x81, 0x01},
		"indefinite map": {0xbf, 0x01, 0x41, 0x00, 0xff},
	} {
		var d digestMap
		if err := unmarshal(in, &d, "x"); !errors.Is(err, credential.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
