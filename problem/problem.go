// Package problem writes HTTP error responses as RFC 9457 problem details
// (application/problem+json) with stable type URIs that clients can branch on.
//
// A problem is written for the client: its title and detail say what the
// client can do about it. What went wrong inside (a parser's or a library's
// error chain) is its cause: set with [Details.WithCause], logged with the
// request's access log line and never sent.
package problem

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// TypeBase prefixes every shenfen problem type; the full type is stable and
// documented, for example "https://shenfen.dev/problems/invalid-id-number".
const TypeBase = "https://shenfen.dev/problems/"

// Details is an RFC 9457 problem document.
type Details struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors lists individual problems when a request has several (for
	// example every invalid field of a record).
	Errors []string `json:"errors,omitempty"`
	// RetryAfter, in seconds, is also sent as the Retry-After header.
	RetryAfter int `json:"retry_after,omitempty"`
	// AttemptsLeft, when set, is how many more tries the client has
	// before a rate limit makes it wait (a refused enrollment).
	AttemptsLeft *int `json:"attempts_left,omitempty"`
	// Cause is the internal error behind the problem: logged, never sent.
	// It must not carry personal data (the log has none).
	Cause error `json:"-"`
}

// New makes a problem of the given short type (the part after TypeBase).
func New(status int, typ, title, detail string) *Details {
	return &Details{Type: TypeBase + typ, Title: title, Status: status, Detail: detail}
}

// Error lets a *Details travel as an error.
func (d *Details) Error() string {
	if d.Detail != "" {
		return d.Title + ": " + d.Detail
	}
	return d.Title
}

// Unwrap returns the cause, so errors.Is and errors.As see through a problem.
func (d *Details) Unwrap() error { return d.Cause }

// WithCause records the internal error behind d (logged, never sent) and
// returns d.
func (d *Details) WithCause(err error) *Details {
	d.Cause = err
	return d
}

// CauseRecorder is implemented by a response writer that logs the request
// (the server's access log): Write hands it the problem's cause, so the
// cause is logged once, on the request's own log line, with its request id.
type CauseRecorder interface {
	RecordCause(error)
}

// Write sends d as the response; its cause goes to the log.
func Write(w http.ResponseWriter, r *http.Request, d *Details) {
	if d.Instance == "" && r != nil {
		d.Instance = r.URL.Path
	}
	if d.Cause != nil {
		recordCause(w, r, d)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if d.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(d.RetryAfter))
	}
	w.WriteHeader(d.Status)
	json.NewEncoder(w).Encode(d)
}

// recordCause hands d's cause to the first CauseRecorder among w and the
// writers it wraps, or logs it with the default logger when there is none.
func recordCause(w http.ResponseWriter, r *http.Request, d *Details) {
	for w != nil {
		if cr, ok := w.(CauseRecorder); ok {
			cr.RecordCause(d.Cause)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	route := ""
	if r != nil {
		route = r.Pattern
	}
	slog.Default().Warn("problem", "type", d.Type, "status", d.Status, "route", route, "cause", d.Cause.Error())
}

// WithRetryAfter sets the retry delay (rounded up to whole seconds) and returns d.
func (d *Details) WithRetryAfter(after time.Duration) *Details {
	s := int((after + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	d.RetryAfter = s
	return d
}

// BadRequest is the problem of a request that cannot be parsed; detail says
// what the client should send (never a parser's message: pass that to
// WithCause).
func BadRequest(detail string) *Details {
	return New(http.StatusBadRequest, "bad-request", "Bad request", detail)
}

// NotFound is the problem of a missing resource.
func NotFound(detail string) *Details {
	return New(http.StatusNotFound, "not-found", "Not found", detail)
}

// Unauthorized is the problem of a missing or wrong credential.
func Unauthorized(detail string) *Details {
	return New(http.StatusUnauthorized, "unauthorized", "Unauthorized", detail)
}

// Internal is the problem of a failure on the server's side; the detail
// never carries internals.
func Internal() *Details {
	return New(http.StatusInternalServerError, "internal", "Internal error", "the server could not complete the request; it has been logged")
}

// TooManyRequests is the problem of a rate-limited request.
func TooManyRequests(detail string, after time.Duration) *Details {
	return New(http.StatusTooManyRequests, "rate-limited", "Too many requests", detail).WithRetryAfter(after)
}

// UnsupportedMediaType is the problem of a body of the wrong type (want is
// the media type to send, for example "application/json").
func UnsupportedMediaType(want string) *Details {
	return New(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", "send "+want)
}

// TooLarge is the problem of a body over the route's limit of max bytes.
func TooLarge(max int64) *Details {
	return New(http.StatusRequestEntityTooLarge, "too-large", "Request too large",
		"the request body is over this endpoint's limit of "+strconv.FormatInt(max, 10)+" bytes")
}

// CrossSite is the problem of a cross-site request refused.
func CrossSite() *Details {
	return New(http.StatusForbidden, "csrf", "Forbidden", "cross-site request refused")
}
