package oid4vc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/proofing"
)

// Bounds on enrollment requests.
const (
	maxStartBody  = 4 << 10
	maxSubmission = 16 << 20
)

// RefusedDetail is the one detail of every record, name, status, face and
// genuine-presence refusal: it does not say which check failed.
const RefusedDetail = "The identity could not be confirmed. Start again: face the camera in a lit place with the screen " +
	"towards your face, keep still and read the digits aloud."

type startRequest struct {
	DeviceKey json.RawMessage `json:"device_key"`
	Language  string          `json:"language"`
}

// lightStep is one step of the light challenge on the wire.
type lightStep struct {
	Color      string `json:"color"`
	StartMS    int64  `json:"start_ms"`
	DurationMS int64  `json:"duration_ms"`
}

type lightChallenge struct {
	Steps   []lightStep `json:"steps"`
	TotalMS int64       `json:"total_ms"`
}

type startResponse struct {
	ID        string         `json:"id"`
	Digits    string         `json:"digits"`
	Language  string         `json:"language"`
	Light     lightChallenge `json:"light"`
	ExpiresAt time.Time      `json:"expires_at"`
}

func (a *API) start(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStartBody))
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, "too-large", "Request too large", "at most 4 KiB"))
		return
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.DeviceKey) == 0 {
		problem.Write(w, r, problem.BadRequest("body must be {\"device_key\": <P-256 public JWK>, \"language\": \"en\" or \"zh\"}"))
		return
	}
	ch, err := a.Proofing.Start(r.Context(), req.DeviceKey, proofing.Language(req.Language), clientAddr(r))
	if err != nil {
		a.enrollError(w, r, err)
		return
	}
	resp := startResponse{ID: ch.ID, Digits: ch.Digits, Language: string(ch.Language), ExpiresAt: ch.ExpiresAt,
		Light: lightChallenge{Steps: []lightStep{}, TotalMS: ch.Light.Total().Milliseconds()}}
	for _, st := range ch.Light.Steps {
		resp.Light.Steps = append(resp.Light.Steps, lightStep{Color: st.Color.Hex(), StartMS: st.Start.Milliseconds(),
			DurationMS: st.Duration.Milliseconds()})
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	st, exp, err := a.Proofing.SessionStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		a.enrollError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "status": st, "expires_at": exp})
}

// readSubmission reads the multipart parts with a bound on each.
func readSubmission(w http.ResponseWriter, r *http.Request) (proofing.Submission, error) {
	var sub proofing.Submission
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return sub, fmt.Errorf("%w: want multipart/form-data", proofing.ErrBadRequest)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSubmission)
	mr, err := r.MultipartReader()
	if err != nil {
		return sub, fmt.Errorf("%w: %v", proofing.ErrBadRequest, err)
	}
	seen := map[string]bool{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return sub, fmt.Errorf("%w: body over %d bytes", proofing.ErrTooLarge, maxSubmission)
		}
		if err != nil {
			return sub, fmt.Errorf("%w: multipart: %v", proofing.ErrBadRequest, err)
		}
		name := p.FormName()
		var max int
		switch name {
		case "request":
			max = proofing.MaxRequestBytes
		case "selfie":
			max = proofing.MaxSelfieBytes
		case "audio":
			max = proofing.MaxAudioBytes
		case "frame":
			max = proofing.MaxFrameBytes
		default:
			return sub, fmt.Errorf("%w: unknown part %q", proofing.ErrBadRequest, name)
		}
		if name != "frame" && seen[name] {
			return sub, fmt.Errorf("%w: part %q twice", proofing.ErrBadRequest, name)
		}
		seen[name] = true
		b, err := io.ReadAll(io.LimitReader(p, int64(max)+1))
		if errors.As(err, &mbe) {
			return sub, fmt.Errorf("%w: body over %d bytes", proofing.ErrTooLarge, maxSubmission)
		}
		if err != nil {
			return sub, fmt.Errorf("%w: part %q: %v", proofing.ErrBadRequest, name, err)
		}
		if len(b) > max {
			return sub, fmt.Errorf("%w: part %q over %d bytes", proofing.ErrTooLarge, name, max)
		}
		switch name {
		case "request":
			sub.Request = string(b)
		case "selfie":
			sub.Selfie = b
		case "audio":
			sub.Audio = b
		case "frame":
			if len(sub.Frames) == proofing.MaxFrames {
				return sub, fmt.Errorf("%w: more than %d frames", proofing.ErrBadRequest, proofing.MaxFrames)
			}
			sub.Frames = append(sub.Frames, b)
		}
	}
	for _, n := range []string{"request", "selfie", "audio", "frame"} {
		if !seen[n] {
			if n == "request" {
				return sub, fmt.Errorf("%w: no signed request", proofing.ErrSignature)
			}
			return sub, fmt.Errorf("%w: part %q missing", proofing.ErrBadRequest, n)
		}
	}
	return sub, nil
}

type offer struct {
	CredentialIssuer           string         `json:"credential_issuer"`
	CredentialConfigurationIDs []string       `json:"credential_configuration_ids"`
	Grants                     map[string]any `json:"grants"`
}

// PreAuthGrant is the OAuth grant type of the pre-authorized code flow.
const PreAuthGrant = "urn:ietf:params:oauth:grant-type:pre-authorized_code"

func (a *API) submit(w http.ResponseWriter, r *http.Request) {
	sub, err := readSubmission(w, r)
	if err != nil {
		a.enrollError(w, r, err)
		return
	}
	sub.Client = clientAddr(r)
	res, err := a.Proofing.Submit(r.Context(), r.PathValue("id"), sub)
	if err != nil {
		a.enrollError(w, r, err)
		return
	}
	o := offer{CredentialIssuer: a.Issuer, CredentialConfigurationIDs: Configs,
		Grants: map[string]any{PreAuthGrant: map[string]string{"pre-authorized_code": res.OfferCode}}}
	ob, _ := json.Marshal(o)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": res.SessionID, "status": "approved", "credential_offer": o,
		"credential_offer_uri": "openid-credential-offer://?credential_offer=" + url.QueryEscape(string(ob)),
	})
}

// attemptsLeft adds to a refusal of the enrollment {id} how many tries the
// device has left before its rate limit (proofing.Service.AttemptsLeft).
func (a *API) attemptsLeft(r *http.Request, d *problem.Details) *problem.Details {
	if id := r.PathValue("id"); id != "" {
		if n, ok := a.Proofing.AttemptsLeft(r.Context(), id); ok {
			d.AttemptsLeft = &n
		}
	}
	return d
}

// enrollError maps proofing's errors to problem documents.
func (a *API) enrollError(w http.ResponseWriter, r *http.Request, err error) {
	var rl *proofing.RateLimitError
	switch {
	case errors.As(err, &rl):
		// The scope (device, client, id_number, id_device) goes to the log
		// only: the answer is the same for every limit.
		problem.Write(w, r, problem.TooManyRequests("too many attempts; retry later", rl.RetryAfter).WithCause(err))
	case err == proofing.ErrRefused:
		problem.Write(w, r, a.attemptsLeft(r, problem.New(http.StatusForbidden, "enrollment-refused", "Enrollment refused", RefusedDetail)))
	case errors.Is(err, proofing.ErrSpeech):
		problem.Write(w, r, a.attemptsLeft(r, problem.New(http.StatusUnprocessableEntity, "speech-mismatch", "Spoken digits not recognised",
			"The recording did not clearly say the challenge digits. Start again and read the new digits aloud.")))
	case errors.Is(err, proofing.ErrNotFound):
		problem.Write(w, r, problem.New(http.StatusNotFound, "enrollment-not-found", "No such enrollment", "start a new enrollment"))
	case errors.Is(err, proofing.ErrExpired):
		problem.Write(w, r, problem.New(http.StatusGone, "challenge-expired", "Challenge expired", "start a new enrollment"))
	case errors.Is(err, proofing.ErrUsed):
		problem.Write(w, r, problem.New(http.StatusConflict, "challenge-used", "Challenge already used", "start a new enrollment"))
	case errors.Is(err, proofing.ErrSignature):
		problem.Write(w, r, problem.New(http.StatusUnauthorized, "bad-signature", "Bad signature", err.Error()))
	case errors.Is(err, proofing.ErrTooLarge):
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, "too-large", "Request too large", err.Error()))
	case errors.Is(err, proofing.ErrMedia):
		problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, "unsupported-media", "Unusable media", err.Error()))
	case errors.Is(err, proofing.ErrBadRequest):
		problem.Write(w, r, problem.BadRequest(err.Error()))
	default:
		a.log().Error("oid4vc: enrollment", "err", err)
		problem.Write(w, r, problem.Internal())
	}
}
