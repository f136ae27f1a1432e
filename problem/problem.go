// Package problem writes HTTP error responses as RFC 9457 problem details
// (application/problem+json) with stable type URIs that clients can branch on.
package problem

import (
	"encoding/json"
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

// Write sends d as the response.
func Write(w http.ResponseWriter, r *http.Request, d *Details) {
	if d.Instance == "" && r != nil {
		d.Instance = r.URL.Path
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

// WithRetryAfter sets the retry delay (rounded up to whole seconds) and returns d.
func (d *Details) WithRetryAfter(after time.Duration) *Details {
	s := int((after + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	d.RetryAfter = s
	return d
}

// Common problems.
var (
	// BadRequest is the type for a request that cannot be parsed.
	BadRequest = func(detail string) *Details {
		return New(http.StatusBadRequest, "bad-request", "Bad request", detail)
	}
	// NotFound is the type for a missing resource.
	NotFound = func(detail string) *Details {
		return New(http.StatusNotFound, "not-found", "Not found", detail)
	}
	// Unauthorized is the type for a missing or wrong credential.
	Unauthorized = func(detail string) *Details {
		return New(http.StatusUnauthorized, "unauthorized", "Unauthorized", detail)
	}
	// Internal is the type for a failure on the server's side; the detail
	// never carries internals.
	Internal = func() *Details {
		return New(http.StatusInternalServerError, "internal", "Internal error", "the server could not complete the request; it has been logged")
	}
	// TooManyRequests is the type for a rate-limited request.
	TooManyRequests = func(detail string, after time.Duration) *Details {
		return New(http.StatusTooManyRequests, "rate-limited", "Too many requests", detail).WithRetryAfter(after)
	}
)
