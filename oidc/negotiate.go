package oidc

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shenfen/shenfen/problem"
)

// wantsPage reports whether the client is a browser showing the answer to
// a person (a navigation or a form submission), which should get a page
// rather than problem+json: its Accept header ranks text/html (or
// application/xhtml+xml) at least as high as every JSON type it lists.
// An API client that asks for JSON, accepts anything (*/* only) or sends
// no Accept keeps problem+json.
func wantsPage(r *http.Request) bool {
	htmlQ, jsonQ := 0.0, 0.0
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		switch {
		case mt == "text/html" || mt == "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			jsonQ = max(jsonQ, q)
		}
	}
	return htmlQ > 0 && htmlQ >= jsonQ
}

// refuse answers a request refused before any client redirect is safe:
// a browser gets the styled error page (code, in the page language), an
// API client the problem document d; both keep d's status and
// Retry-After.
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, uiLocales, code string, d *problem.Details) {
	w.Header().Add("Vary", "Accept")
	if !wantsPage(r) {
		problem.Write(w, r, d)
		return
	}
	if d.Cause != nil {
		p.recordCause(w, r, d.Cause)
	}
	if d.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfter))
	}
	lang := pageLang(uiLocales, r)
	msg := text[lang]["err_"+code]
	data := map[string]any{"Code": code}
	if d.RetryAfter > 0 {
		msg += waitText(lang, time.Duration(d.RetryAfter)*time.Second)
		if r.Method == http.MethodGet {
			// The same request again, once the wait is over.
			data["RetryURL"] = r.URL.RequestURI()
		}
	}
	data["Message"] = msg
	p.page(w, r, uiLocales, d.Status, "error.html", data, pageCSP)
}

// waitText says how long to wait before trying again.
func waitText(lang string, d time.Duration) string {
	s := int(d / time.Second)
	if lang == langZH {
		return "请在 " + strconv.Itoa(s) + " 秒后重试。"
	}
	if s == 1 {
		return " Try again in 1 second."
	}
	return " Try again in " + strconv.Itoa(s) + " seconds."
}

// recordCause hands cause to the access log's recorder among w and the
// writers it wraps (as problem.Write does), or logs it.
func (p *Provider) recordCause(w http.ResponseWriter, r *http.Request, cause error) {
	for w != nil {
		if cr, ok := w.(problem.CauseRecorder); ok {
			cr.RecordCause(cause)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	p.cfg.Log.WarnContext(r.Context(), "oidc: request refused", "route", r.Pattern, "cause", cause.Error())
}

// pageErrors holds back an error response that a browser would see as raw
// text or JSON (op's http.Error and its JSON RequestError on endpoints
// people navigate to) so that it can be shown as a page; anything else
// passes through.
type pageErrors struct {
	http.ResponseWriter
	json   bool // also hold back JSON errors (the client wants a page)
	status int
	body   bytes.Buffer
}

func (b *pageErrors) WriteHeader(code int) {
	ct := b.Header().Get("Content-Type")
	if code >= 400 && b.status == 0 && (strings.HasPrefix(ct, "text/plain") || b.json && strings.Contains(ct, "json")) {
		b.status = code
		b.Header().Del("Content-Type")
		b.Header().Del("X-Content-Type-Options")
		return
	}
	b.ResponseWriter.WriteHeader(code)
}

func (b *pageErrors) Write(p []byte) (int, error) {
	if b.status != 0 {
		if b.body.Len() < 1024 {
			b.body.Write(p[:min(len(p), 1024-b.body.Len())])
		}
		return len(p), nil
	}
	return b.ResponseWriter.Write(p)
}

// endSession is op's RP-initiated logout, whose refusals (a JSON error or
// plain text) a browser sees as a page in the language the site asked
// for (ui_locales) or the browser's.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	if !wantsPage(r) {
		p.opHandler.ServeHTTP(w, r)
		return
	}
	bw := &pageErrors{ResponseWriter: w, json: true}
	p.opHandler.ServeHTTP(bw, r)
	if bw.status != 0 {
		w.Header().Add("Vary", "Accept")
		p.errorPageDetail(w, r, r.FormValue("ui_locales"), bw.status, "logout", logoutDetail(bw.body.Bytes()))
	}
}

// notFound answers 404: the error page to a browser, plain text otherwise.
func (p *Provider) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	if wantsPage(r) {
		p.errorPage(w, r, "", http.StatusNotFound, "not_found")
		return
	}
	http.NotFound(w, r)
}

// serveRest is op's router for everything the provider does not route
// itself: op's API endpoints, and unknown paths, which a browser navigating
// to sees as the error page (not op's plain-text 404).
func (p *Provider) serveRest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !wantsPage(r) {
		p.opHandler.ServeHTTP(w, r)
		return
	}
	bw := &pageErrors{ResponseWriter: w}
	p.opHandler.ServeHTTP(bw, r)
	if bw.status == http.StatusNotFound {
		w.Header().Add("Vary", "Accept")
		p.errorPage(w, r, "", http.StatusNotFound, "not_found")
	} else if bw.status != 0 {
		w.Header().Add("Vary", "Accept")
		p.errorPageDetail(w, r, "", bw.status, "invalid_request", strings.TrimSpace(bw.body.String()))
	}
}

// logoutDetail is op's error description (JSON error_description, or the
// plain text), for the page's technical detail.
func logoutDetail(body []byte) string {
	var e struct {
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Description != "" {
		return e.Description
	}
	return strings.TrimSpace(string(body))
}
