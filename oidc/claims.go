package oidc

import (
	"fmt"
	"slices"
	"strings"
)

// Claims the provider can release, by OIDC claim name, with the card
// (SD-JWT VC) paths the wallet discloses for each.
var cardPaths = map[string][]string{
	"name":        {"family_name", "given_name", "name_original"},
	"family_name": {"family_name"},
	"given_name":  {"given_name"},
	"birthdate":   {"birthdate"},
	"age_over_18": {"age_equal_or_over.18"},
	"id_number":   {"id_number"},
	"picture":     {"picture"},
	"address":     {"address"},
}

// scopeClaims maps each scope to the claims it asks for. Scopes other than
// profile are named after their one claim, so an RP asks for exactly what
// it needs (a bar asks for "openid age_over_18").
var scopeClaims = map[string][]string{
	"profile":     {"name", "family_name", "given_name"},
	"birthdate":   {"birthdate"},
	"age_over_18": {"age_over_18"},
	"id_number":   {"id_number"},
	"picture":     {"picture"},
	"address":     {"address"},
}

// Scopes lists the supported scopes (advertised in discovery).
var Scopes = []string{"openid", "offline_access", "profile", "birthdate", "age_over_18", "id_number", "picture", "address"}

// ClaimNames lists the claims the provider can release, sorted.
func ClaimNames() []string {
	out := make([]string, 0, len(cardPaths))
	for k := range cardPaths {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// claimLabels are the consent screen's words for each claim.
var claimLabels = map[string]string{
	"name": "Full name", "family_name": "Family name", "given_name": "Given name",
	"birthdate": "Date of birth", "age_over_18": "Whether you are 18 or over",
	"id_number": "ID number", "picture": "Portrait photo", "address": "Address",
}

// ParseEntitlements parses "name,id_number,picture?" (a trailing ? marks an
// optional claim) into entitlements, rejecting unknown claims.
func ParseEntitlements(s string) ([]Entitlement, error) {
	var out []Entitlement
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		e := Entitlement{Claim: strings.TrimSuffix(f, "?"), Optional: strings.HasSuffix(f, "?")}
		if _, ok := cardPaths[e.Claim]; !ok {
			return nil, fmt.Errorf("oidc: unknown claim %q (known: %s)", e.Claim, strings.Join(ClaimNames(), ", "))
		}
		if seen[e.Claim] {
			return nil, fmt.Errorf("oidc: claim %q listed twice", e.Claim)
		}
		seen[e.Claim] = true
		out = append(out, e)
	}
	return out, nil
}

// FormatEntitlements is the inverse of ParseEntitlements.
func FormatEntitlements(es []Entitlement) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Claim
		if e.Optional {
			parts[i] += "?"
		}
	}
	return strings.Join(parts, ",")
}

func (c *Client) entitlement(claim string) (Entitlement, bool) {
	for _, e := range c.Entitlements {
		if e.Claim == claim {
			return e, true
		}
	}
	return Entitlement{}, false
}

// trimScopes applies the RP's entitlements to requested scopes. It returns
// the scopes kept, the claims asked for (entitled ones only, in a stable
// order) and the claims refused because the RP is not entitled to them.
// Unknown scopes are dropped.
func trimScopes(c *Client, scopes []string) (kept, claims, refused []string) {
	seen := map[string]bool{}
	for _, s := range scopes {
		if s == "openid" || s == "offline_access" {
			if !slices.Contains(kept, s) {
				kept = append(kept, s)
			}
			continue
		}
		cs, ok := scopeClaims[s]
		if !ok {
			continue
		}
		any := false
		for _, cl := range cs {
			if seen[cl] {
				any = any || slices.Contains(claims, cl)
				continue
			}
			seen[cl] = true
			if _, ok := c.entitlement(cl); ok {
				claims = append(claims, cl)
				any = true
			} else {
				refused = append(refused, cl)
			}
		}
		if any && !slices.Contains(kept, s) {
			kept = append(kept, s)
		}
	}
	return kept, claims, refused
}

// walletPaths lists the card paths the wallet is asked to disclose for
// claims; id_number is always asked, because the provider derives the
// pairwise subject from it (the provider is the authority that issued the
// card: the number is not news to it, and it is released to the RP only
// when the RP is entitled and the citizen consents).
func walletPaths(claims []string) []string {
	out := []string{"id_number"}
	for _, c := range claims {
		for _, p := range cardPaths[c] {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// fromCard maps disclosed SD-JWT VC claims to OIDC claim values, keeping
// only names in want.
func fromCard(card map[string]any, want []string) map[string]any {
	out := map[string]any{}
	str := func(k string) string { s, _ := card[k].(string); return s }
	for _, c := range want {
		switch c {
		case "name":
			if n := str("name_original"); n != "" {
				out[c] = n
			} else if f, g := str("family_name"), str("given_name"); f != "" || g != "" {
				out[c] = strings.TrimSpace(g + " " + f)
			}
		case "family_name", "given_name", "birthdate", "id_number", "picture":
			if v := str(c); v != "" {
				out[c] = v
			}
		case "age_over_18":
			if m, ok := card["age_equal_or_over"].(map[string]any); ok {
				if b, ok := m["18"].(bool); ok {
					out[c] = b
				}
			}
		case "address":
			if m, ok := card["address"].(map[string]any); ok {
				if f, ok := m["formatted"].(string); ok && f != "" {
					out[c] = map[string]any{"formatted": f}
				}
			}
		}
	}
	return out
}
