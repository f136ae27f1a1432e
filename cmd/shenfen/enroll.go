package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/biometric/face"
	"github.com/shenfen/shenfen/biometric/speech"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/engines"
	"github.com/shenfen/shenfen/server"
)

func init() {
	commands["enroll"] = command{"enroll from the command line (device key, challenge, signed submission, card)", runEnroll}
}

// mountEnrollment attaches the enrollment API, the OpenID4VCI issuer and
// the OpenID4VP verifier endpoints, and starts the sweeper that deletes
// expired evidence and applies pending revocations. Without the biometric
// engines (face model files, PocketSphinx) enrollment answers 503 and the
// reason is logged; the verifier endpoints work regardless.
func mountEnrollment(ctx context.Context, a *app, srv *server.Server) error {
	t, err := a.openTrust(ctx)
	if err != nil {
		return err
	}
	issuer := strings.TrimSuffix(a.cfg.PublicURL, "/")
	p := credential.ProfileCN
	st := a.db.Proofing()
	checker := localStatus{t.status}
	anchors := credential.NewAnchors(t.ring.Root())
	api := &oid4vc.API{Issuer: issuer, VCT: p.VCT, DocType: p.DocType, Namespace: p.Namespace,
		Verifier: oid4vc.Verifiers{
			SDJWT: &sdjwt.Verifier{Anchors: anchors, Status: checker, Types: []string{p.VCT}},
			Mdoc:  &mdoc.Verifier{Anchors: anchors, Status: checker, DocTypes: []string{p.DocType}},
		},
		Requests: st, Sealer: a.sealer, Disclosures: t.audit,
		VerifierLimit: a.rateLimiter("verifier-request", 2*time.Second, 30), NonceLimit: a.vciNonceLimit(),
		BatchLimit: a.rateLimiter("vci-batch-card", oid4vc.BatchCardEvery, oid4vc.BatchCardBurst), Log: a.log}
	// The metadata is signed by the document signer and names the log's
	// note key: the wallet pins that key from it (web/static/wallet/collect.js).
	api.MetadataSigner, api.LogKey = t.ring, t.api.CheckpointKey
	reg, err := a.verifierRegistry(ctx)
	if err != nil {
		return err
	}
	api.Desks = reg
	// Desks' certificates are renewed a month before they end (online
	// verifiers are renewed in the console: theirs must reach them).
	a.addLoop("desk certificates", 12*time.Hour, func(ctx context.Context, _ time.Time) error {
		ids, err := reg.RenewDue(ctx, 30*24*time.Hour)
		if len(ids) > 0 {
			a.log.InfoContext(ctx, "desk certificates renewed", "desks", len(ids))
		}
		return err
	})
	g, err := a.guard(ctx)
	if err != nil {
		return err
	}
	admin.NewVerifierAPI(reg, a.log).MountGate(srv, g)
	fc, sp, err := loadEngines()
	if err != nil {
		a.log.Error("enrollment unavailable: biometric engines not loaded", "error", err.Error())
	} else {
		svc, err := proofing.New(proofing.Config{Store: st, Records: a.registry, Face: fc, Speech: sp,
			Status: t.status, Sealer: a.sealer, Limits: a.enrollmentLimits(), Log: a.log})
		if err != nil {
			return err
		}
		api.Proofing = svc
		api.Cards = &oid4vc.Issuer{ID: issuer, Profile: p, Records: a.registry, Proofing: svc, Signers: t.ring,
			Status: t.status, Log: t.audit}
		a.addLoop("proofing sweep", time.Minute, func(ctx context.Context, _ time.Time) error { return svc.Sweep(ctx) })
	}
	api.Mount(srv)
	return nil
}

func loadEngines() (proofing.FaceChecker, proofing.DigitRecognizer, error) {
	dir, err := face.DefaultModelDir()
	if err != nil {
		return nil, nil, err
	}
	fe, err := face.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	rec, err := speech.NewSphinx(speech.SphinxConfig{})
	if err != nil {
		return nil, nil, err
	}
	return engines.Face{Engine: fe}, engines.Speech{Verifier: rec}, nil
}

// runEnroll is a command-line wallet for operators and tests: it makes (or
// loads) a device key, asks for a challenge, prints the digits, gets the
// recording (a file, or a command's output), submits everything signed, and
// on approval collects the card through OpenID4VCI.
func runEnroll(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("enroll", flag.ContinueOnError)
	server := fl.String("server", "http://127.0.0.1:8080", "shenfen server URL")
	id := fl.String("id", "", "ID number")
	name := fl.String("name", "", "name as in the registry")
	selfie := fl.String("selfie", "", "selfie image (JPEG, PNG or WebP)")
	audio := fl.String("audio", "", "WAV recording of the digits read aloud (read after the digits are shown)")
	audioCmd := fl.String("audio-cmd", "", "instead of --audio: shell command writing the WAV to stdout; $SHENFEN_DIGITS holds the digits")
	wait := fl.Bool("wait", false, "wait for Enter after showing the digits before reading --audio (record it meanwhile)")
	frames := fl.String("frames", "", "comma-separated JPEG video frames of the reading (40 to 160, at most 320 px a side)")
	frameTimes := fl.String("frame-times", "", "comma-separated times of the frames, ms since the start of the recording")
	lang := fl.String("language", "en", "language the digits are read in (en or zh)")
	keyFile := fl.String("key", "", "device key file (PEM); made if missing (default: a new key, not kept)")
	card := fl.String("card", "", "write the collected SD-JWT VC here")
	mdocOut := fl.String("mdoc", "", "write the collected mdoc (base64url IssuerSigned) here")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *id == "" || *name == "" || *selfie == "" || *frames == "" || *frameTimes == "" || (*audio == "") == (*audioCmd == "") {
		return errors.New("enroll: --id, --name, --selfie, --frames, --frame-times and one of --audio or --audio-cmd are required")
	}
	var times []int64
	for _, f := range strings.Split(*frameTimes, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return fmt.Errorf("enroll: --frame-times: %w", err)
		}
		times = append(times, v)
	}
	base := strings.TrimSuffix(*server, "/")
	key, err := deviceKey(*keyFile)
	if err != nil {
		return err
	}
	c := &http.Client{Timeout: 60 * time.Second}
	jwk, err := proofing.PublicJWK(&key.PublicKey)
	if err != nil {
		return err
	}
	var ch struct {
		ID        string          `json:"id"`
		Digits    string          `json:"digits"`
		Language  string          `json:"language"`
		Light     json.RawMessage `json:"light"`
		ExpiresAt time.Time       `json:"expires_at"`
	}
	body, _ := json.Marshal(map[string]any{"device_key": json.RawMessage(jwk), "language": *lang})
	if err := call(ctx, c, "POST", base+"/api/enrollments", "application/json", body, "", &ch); err != nil {
		return err
	}
	fmt.Printf("Read these digits aloud: %s (before %s)\n", ch.Digits, ch.ExpiresAt.Local().Format(time.TimeOnly))
	fmt.Printf("Light the face with this sequence while recording: %s\n", ch.Light)
	if *wait {
		fmt.Print("Press Enter when the recording is ready... ")
		fmt.Scanln()
	}
	var wav []byte
	if *audioCmd != "" {
		cmd := exec.CommandContext(ctx, "sh", "-c", *audioCmd)
		cmd.Env = append(os.Environ(), "SHENFEN_DIGITS="+ch.Digits)
		cmd.Stderr = os.Stderr
		if wav, err = cmd.Output(); err != nil {
			return fmt.Errorf("enroll: --audio-cmd: %w", err)
		}
	} else if wav, err = os.ReadFile(*audio); err != nil {
		return err
	}
	sb, err := os.ReadFile(*selfie)
	if err != nil {
		return err
	}
	var fbs [][]byte
	for _, f := range strings.Split(*frames, ",") {
		b, err := os.ReadFile(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		fbs = append(fbs, b)
	}
	claims := proofing.RequestClaims{EnrollmentID: ch.ID, IDNumber: *id, Name: *name, IssuedAt: time.Now().Unix(),
		Selfie: proofing.Digest(sb), Audio: proofing.Digest(wav), FrameTimesMS: times, Language: ch.Language}
	for _, f := range fbs {
		claims.Frames = append(claims.Frames, proofing.Digest(f))
	}
	jws, err := proofing.SignRequest(key, claims)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("request", jws)
	for _, p := range []struct {
		name, file string
		b          []byte
	}{{"selfie", "selfie", sb}, {"audio", "digits.wav", wav}} {
		w, _ := mw.CreateFormFile(p.name, p.file)
		w.Write(p.b)
	}
	for i, f := range fbs {
		w, _ := mw.CreateFormFile("frame", fmt.Sprintf("frame%d", i))
		w.Write(f)
	}
	mw.Close()
	var res struct {
		Status string `json:"status"`
		Offer  struct {
			Grants map[string]struct {
				Code string `json:"pre-authorized_code"`
			} `json:"grants"`
		} `json:"credential_offer"`
	}
	if err := call(ctx, c, "POST", base+"/api/enrollments/"+ch.ID+"/submission", mw.FormDataContentType(), buf.Bytes(), "", &res); err != nil {
		return err
	}
	fmt.Println("Enrollment approved.")
	code := res.Offer.Grants[oid4vc.PreAuthGrant].Code
	if *card == "" && *mdocOut == "" {
		fmt.Println("Pre-authorized code (valid 10 minutes):", code)
		return nil
	}
	return collectCard(ctx, c, base, code, key, *card, *mdocOut)
}

// collectCard runs the OpenID4VCI pre-authorized code flow.
func collectCard(ctx context.Context, c *http.Client, base, code string, key *ecdsa.PrivateKey, sdOut, mdocOut string) error {
	var meta struct {
		Issuer string `json:"credential_issuer"`
	}
	if err := call(ctx, c, "GET", base+"/.well-known/openid-credential-issuer", "", nil, "", &meta); err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {code}}
	if err := call(ctx, c, "POST", base+"/vci/token", "application/x-www-form-urlencoded", []byte(form.Encode()), "", &tok); err != nil {
		return err
	}
	for _, want := range []struct{ config, out string }{{oid4vc.ConfigSDJWT, sdOut}, {oid4vc.ConfigMdoc, mdocOut}} {
		if want.out == "" {
			continue
		}
		var n struct {
			Nonce string `json:"c_nonce"`
		}
		if err := call(ctx, c, "POST", base+"/vci/nonce", "", nil, "", &n); err != nil {
			return err
		}
		proof, err := oid4vc.MakeProof(key, meta.Issuer, n.Nonce, time.Now())
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]any{"credential_configuration_id": want.config, "proofs": map[string][]string{"jwt": {proof}}})
		var cr struct {
			Credentials []struct {
				Credential string `json:"credential"`
			} `json:"credentials"`
		}
		if err := call(ctx, c, "POST", base+"/vci/credential", "application/json", body, tok.AccessToken, &cr); err != nil {
			return err
		}
		if len(cr.Credentials) != 1 {
			return errors.New("enroll: credential response without a credential")
		}
		if err := os.WriteFile(want.out, []byte(cr.Credentials[0].Credential), 0o600); err != nil {
			return err
		}
		fmt.Printf("Card (%s) written to %s\n", want.config, want.out)
	}
	return nil
}

// call sends one request and decodes the JSON answer; an error answer
// becomes an error carrying its problem title and detail.
func call(ctx context.Context, c *http.Client, method, u, ctype string, body []byte, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Title, Detail, Error string
			Desc                 string `json:"error_description"`
			RetryAfter           int    `json:"retry_after"`
		}
		json.Unmarshal(b, &p)
		msg := strings.TrimSpace(p.Title + ": " + p.Detail + p.Error + " " + p.Desc)
		if p.RetryAfter > 0 {
			msg += fmt.Sprintf(" (retry after %d s)", p.RetryAfter)
		}
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, msg)
	}
	return json.Unmarshal(b, out)
}

// deviceKey loads the device key from path, making and saving it when the
// file does not exist; an empty path gives a new key that is not kept.
func deviceKey(path string) (*ecdsa.PrivateKey, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			blk, _ := pem.Decode(b)
			if blk == nil {
				return nil, fmt.Errorf("enroll: %s is not PEM", path)
			}
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("enroll: %s: %w", path, err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok || ek.Curve != elliptic.P256() {
				return nil, fmt.Errorf("enroll: %s is not a P-256 key", path)
			}
			return ek, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if path != "" {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
	}
	return k, nil
}
