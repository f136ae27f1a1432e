package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // QR photos
	_ "image/png"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/trustapi"
)

func init() {
	commands["verify"] = command{"verify a card presentation (SD-JWT VC, mdoc, or QR image) offline", runVerify}
}

const verifyUsage = `usage: shenfen verify [flags] [FILE]

Verifies a presentation of a shenfen card and prints its claims as JSON.
FILE (or stdin) holds an SD-JWT VC presentation (text with "~"), an mdoc
DeviceResponse (binary CBOR), or a QR payload ("SF1:..."); --qr reads the QR
code from an image instead. The exit status is 1 when verification fails;
the error names the failed check (credential sentinel errors).

Trust anchors come from --anchors (PEM: CA certificates are roots, other
certificates are cached issuer certificates, needed for QR payloads) or
--trust-list (a URL serving the same PEM, shenfen's JSON trust list, or a
JWKS whose keys carry x5c). Status is checked against --status-list (cached
Token Status List tokens, verified under the same anchors), fetched with
--fetch-status, or skipped with --no-status; with none of them a card with
a status reference fails (fail closed).

flags:
`

func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), verifyUsage); fs.PrintDefaults() }
	var (
		anchorsFile = fs.String("anchors", "", "PEM file of trust anchors (and cached issuer certificates)")
		trustList   = fs.String("trust-list", "", "URL of the issuer's trust list (PEM or JWKS with x5c)")
		noStatus    = fs.Bool("no-status", false, "do not check the status list")
		fetchStatus = fs.Bool("fetch-status", false, "fetch status list tokens over HTTPS (cached ones from --status-list are used first)")
		statusFiles stringList
		nonce       = fs.String("nonce", "", "verifier nonce the presentation must cover (SD-JWT, mdoc; QR: hex)")
		aud         = fs.String("aud", "", "verifier identifier (SD-JWT audience; mdoc OpenID4VP client_id)")
		responseURI = fs.String("response-uri", "", "mdoc: OpenID4VP response_uri in the session transcript")
		transcript  = fs.String("transcript", "", "mdoc: file holding the encoded SessionTranscript (instead of --aud/--nonce/--response-uri)")
		qrImage     = fs.String("qr", "", "PNG or JPEG image of a shenfen QR code to decode and verify")
		thumbOut    = fs.String("thumbnail", "", "QR: write the issuer-signed portrait thumbnail (JPEG) to this file")
		at          = fs.String("at", "", "verify as of this RFC 3339 time instead of now")
		maxAge      = fs.Duration("max-age", 5*time.Minute, "SD-JWT: how old the key-binding JWT may be")
	)
	fs.Var(&statusFiles, "status-list", "cached Token Status List token file (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	clock := credential.Clock(nil)
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("--at: %w", err)
		}
		clock = func() time.Time { return t }
	}
	anchors, err := loadAnchors(ctx, *anchorsFile, *trustList)
	if err != nil {
		return err
	}
	var status credential.StatusChecker
	switch {
	case *noStatus:
		status = noStatusCheck{}
	case len(statusFiles) > 0 || *fetchStatus:
		if status, err = statusChecker(anchors, statusFiles, *fetchStatus, clock); err != nil {
			return err
		}
	}

	var input []byte
	switch {
	case *qrImage != "":
		f, err := os.Open(*qrImage)
		if err != nil {
			return err
		}
		img, _, err := image.Decode(io.LimitReader(f, 32<<20))
		f.Close()
		if err != nil {
			return fmt.Errorf("--qr: %w", err)
		}
		text, err := qr.DecodeImage(img)
		if err != nil {
			return err
		}
		input = []byte(text)
	case fs.NArg() == 1 && fs.Arg(0) != "-":
		if input, err = os.ReadFile(fs.Arg(0)); err != nil {
			return err
		}
	case fs.NArg() > 1:
		return errors.New("at most one FILE")
	default:
		if input, err = io.ReadAll(io.LimitReader(os.Stdin, 8<<20)); err != nil {
			return err
		}
	}

	var out any
	text := strings.TrimSpace(string(input))
	switch {
	case strings.HasPrefix(text, qr.Prefix):
		var n []byte
		if *nonce != "" {
			if n, err = hex.DecodeString(*nonce); err != nil {
				return fmt.Errorf("--nonce: QR nonces are hex: %w", err)
			}
		}
		v := &qr.Verifier{Anchors: anchors, Status: status, Seen: &onceSet{}, Clock: clock}
		res, err := v.Verify(ctx, text, n)
		if err != nil {
			return err
		}
		if *thumbOut != "" && len(res.Thumbnail) > 0 {
			if err := os.WriteFile(*thumbOut, res.Thumbnail, 0o600); err != nil {
				return err
			}
		}
		out = report(&res.Verified, res.DeviceSigned)
	case isSDJWT(text):
		v := &sdjwt.Verifier{Anchors: anchors, Status: status, Clock: clock, MaxAge: *maxAge}
		res, err := v.Verify(ctx, text, sdjwt.Expect{Nonce: *nonce, Audience: *aud})
		if err != nil {
			return err
		}
		out = report(res, nil)
	default:
		st, err := sessionTranscript(*transcript, *aud, *nonce, *responseURI)
		if err != nil {
			return err
		}
		v := &mdoc.Verifier{Anchors: anchors, Status: status, Clock: clock}
		res, err := v.Verify(ctx, input, mdoc.Expect{SessionTranscript: st})
		if err != nil {
			return err
		}
		out = report(&res.Verified, res.DeviceSigned)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// isSDJWT tells a compact SD-JWT (base64url segments and "~") from CBOR.
func isSDJWT(s string) bool {
	if !strings.Contains(s, "~") || !strings.HasPrefix(s, "ey") {
		return false
	}
	for _, c := range s {
		if !(c == '~' || c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func sessionTranscript(file, aud, nonce, responseURI string) ([]byte, error) {
	if file != "" {
		return os.ReadFile(file)
	}
	if aud == "" || nonce == "" {
		return nil, errors.New("mdoc: give --transcript, or --aud, --nonce and --response-uri (OpenID4VP)")
	}
	return mdoc.OID4VPSessionTranscript(aud, nonce, nil, responseURI)
}

// report is the JSON printed for a verified presentation (portraits as
// base64, times in RFC 3339, the issuer chain as subjects).
func report(v *credential.Verified, deviceSigned map[string]map[string]any) map[string]any {
	chain := make([]string, len(v.Chain))
	for i, c := range v.Chain {
		chain[i] = c.Subject.String()
	}
	r := map[string]any{
		"format": v.Format, "type": v.Type, "issuer": v.Issuer, "chain": chain,
		"signed": v.Signed, "valid_from": v.ValidFrom, "valid_until": v.ValidUntil,
		"claims": jsonable(v.Claims),
	}
	if v.Status != nil {
		r["status"] = v.Status
	}
	if len(deviceSigned) > 0 {
		r["device_signed"] = jsonable(deviceSigned)
	}
	return r
}

func jsonable(v any) any {
	switch v := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = jsonable(x)
		}
		return m
	case map[string]map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = jsonable(x)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonable(x)
		}
		return out
	}
	return v
}

// loadAnchors reads trust anchors from a PEM file or a trust-list URL.
func loadAnchors(ctx context.Context, file, url string) (*credential.Anchors, error) {
	var b []byte
	var err error
	switch {
	case file != "" && url != "":
		return nil, errors.New("give --anchors or --trust-list, not both")
	case file != "":
		b, err = os.ReadFile(file)
	case url != "":
		b, err = fetchTrustList(ctx, url)
	default:
		return nil, errors.New("trust anchors required: --anchors FILE or --trust-list URL")
	}
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		if b, err = trustJSONToPEM(t); err != nil {
			return nil, err
		}
	}
	return credential.ParseAnchorsPEM(b)
}

func fetchTrustList(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pem-certificate-chain, application/jwk-set+json, application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("trust list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("trust list: %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 4<<20))
}

// trustJSONToPEM turns a JSON trust list into PEM: shenfen's trust list
// ({"anchors": [{"pem": ...}], "signers": [...]}) or a JWKS whose keys
// carry x5c chains.
func trustJSONToPEM(b []byte) ([]byte, error) {
	var tl struct {
		Anchors []struct {
			PEM string `json:"pem"`
		} `json:"anchors"`
		Signers []struct {
			PEM string `json:"pem"`
		} `json:"signers"`
		Keys []struct {
			X5c []string `json:"x5c"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &tl); err != nil {
		return nil, fmt.Errorf("trust list is neither PEM nor JSON: %w", err)
	}
	var out bytes.Buffer
	for _, e := range append(tl.Anchors, tl.Signers...) {
		out.WriteString(e.PEM)
		out.WriteByte('\n')
	}
	for _, k := range tl.Keys {
		for _, c := range k.X5c {
			der, err := base64.StdEncoding.DecodeString(c)
			if err != nil {
				return nil, fmt.Errorf("trust list x5c: %w", err)
			}
			if _, err := x509.ParseCertificate(der); err != nil {
				return nil, fmt.Errorf("trust list x5c: %w", err)
			}
			pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		}
	}
	return out.Bytes(), nil
}

// statusChecker is a status.Checker holding the cached tokens (verified
// under the same trust anchors), fetching others when fetch is set.
func statusChecker(anchors *credential.Anchors, files []string, fetch bool, clock credential.Clock) (credential.StatusChecker, error) {
	c := &status.Checker{Key: status.ChainKeys(anchors.Roots()...), Now: clock.Now}
	if fetch {
		c.Fetcher = trustapi.Fetcher{}
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		tok, err := status.ParseToken(bytes.TrimSpace(raw), c.Key, clock.Now(), status.Limits{})
		if err != nil {
			return nil, fmt.Errorf("--status-list %s: %w", f, err)
		}
		if err := c.Add(tok.Subject, bytes.TrimSpace(raw)); err != nil {
			return nil, fmt.Errorf("--status-list %s: %w", f, err)
		}
	}
	return c, nil // status.Status is credential.Status
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// noStatusCheck answers "valid" for every entry (--no-status).
type noStatusCheck struct{}

func (noStatusCheck) Status(context.Context, string, int) (credential.Status, error) {
	return credential.StatusValid, nil
}

// onceSet is the in-process NonceStore of one verify run.
type onceSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (s *onceSet) Consume(_ context.Context, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[v] {
		return credential.ErrReplay
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[v] = true
	return nil
}
