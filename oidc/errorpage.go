package oidc

import (
	"net/http"
	"net/url"
)

// requestError shows the error page of a sign-in whose request is known:
// in the language the site asked for, with a link back to the site (the
// origin of the request's registered redirect URI, named by the site's
// registered name) so that the citizen is not left on a dead end.
func (p *Provider) requestError(w http.ResponseWriter, r *http.Request, a *authRequest, status int, code string) {
	lang := pageLang(a.d.UILocales, r)
	data := map[string]any{"Code": code, "Message": text[lang]["err_"+code]}
	if back := siteOrigin(a.d.RedirectURI); back != "" {
		if c, err := p.client(r.Context(), a.row.ClientID); err == nil {
			data["BackURL"], data["BackName"], data["BackLang"] = back, rpName(lang, c.Name), otherLang(lang, c.Name)
		}
	}
	p.page(w, r, a.d.UILocales, status, "error.html", data, pageCSP)
}

// loggedOut is where a logout without a post_logout_redirect_uri ends.
func (p *Provider) loggedOut(w http.ResponseWriter, r *http.Request) {
	p.page(w, r, "", http.StatusOK, "logged_out.html", map[string]any{}, pageCSP)
}

// siteOrigin is the origin ("https://hotel.example/") of a redirect URI,
// or "" if it is not an http(s) URL.
func siteOrigin(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/"
}
