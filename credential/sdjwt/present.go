package sdjwt

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/shenfen/shenfen/credential"
)

// Present makes a presentation of the issued SD-JWT VC revealing only the
// claims named in disclose (paths as in [credential.Attribute.JWT], joined
// with "." e.g. "given_name", "age_equal_or_over.18"; naming a container
// reveals all it holds), with a key-binding JWT signed by the holder's
// device key over nonce, audience and iat.
func Present(ctx context.Context, issued string, disclose []string, holder crypto.Signer, audience, nonce string, iat time.Time) (string, error) {
	p, err := split(issued, 1<<24)
	if err != nil {
		return "", fmt.Errorf("sdjwt: present: %w", err)
	}
	payload, err := decodeSegment(p.payload)
	if err != nil {
		return "", fmt.Errorf("sdjwt: present: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("sdjwt: present: payload: %w", err)
	}
	paths, err := disclosurePaths(claims, p.disclosures)
	if err != nil {
		return "", fmt.Errorf("sdjwt: present: %w", err)
	}
	want := func(path string) bool {
		for _, w := range disclose {
			if path == w || strings.HasPrefix(path, w+".") || strings.HasPrefix(w, path+".") {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	b.WriteString(p.jwt)
	b.WriteByte('~')
	for _, d := range p.disclosures {
		if want(paths[d]) {
			b.WriteString(d)
			b.WriteByte('~')
		}
	}
	kb, err := signJWT(holder, TypeKB, nil, map[string]any{
		"iat": iat.Unix(), "aud": audience, "nonce": nonce, "sd_hash": digestOf(b.String()),
	})
	if err != nil {
		return "", fmt.Errorf("sdjwt: present: key binding: %w", err)
	}
	b.WriteString(kb)
	return b.String(), nil
}

// Disclosed lists the claim paths an issued SD-JWT VC can disclose.
func Disclosed(issued string) ([]string, error) {
	p, err := split(issued, 1<<24)
	if err != nil {
		return nil, err
	}
	payload, err := decodeSegment(p.payload)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", credential.ErrMalformed, err)
	}
	paths, err := disclosurePaths(claims, p.disclosures)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(paths))
	for _, d := range p.disclosures {
		out = append(out, paths[d])
	}
	return out, nil
}

// disclosurePaths maps each disclosure to the dotted path of the claim it
// discloses, by walking the (unverified) payload.
func disclosurePaths(claims map[string]any, disclosures []string) (map[string]string, error) {
	byDigest := make(map[string]string, len(disclosures))
	for _, d := range disclosures {
		byDigest[digestOf(d)] = d
	}
	out := map[string]string{}
	var walk func(v any, prefix string) error
	walk = func(v any, prefix string) error {
		switch v := v.(type) {
		case map[string]any:
			if sd, ok := v["_sd"].([]any); ok {
				for _, x := range sd {
					s, _ := x.(string)
					d, ok := byDigest[s]
					if !ok {
						continue
					}
					arr, err := decodeDisclosure(d)
					if err != nil {
						return err
					}
					if len(arr) != 3 {
						return fmt.Errorf("%w: object disclosure of %d elements", credential.ErrDisclosure, len(arr))
					}
					name, _ := arr[1].(string)
					out[d] = prefix + name
					if err := walk(arr[2], prefix+name+"."); err != nil {
						return err
					}
				}
			}
			for k, x := range v {
				if k != "_sd" {
					if err := walk(x, prefix+k+"."); err != nil {
						return err
					}
				}
			}
		case []any:
			for _, x := range v {
				if m, ok := x.(map[string]any); ok && len(m) == 1 {
					if s, ok := m["..."].(string); ok {
						if d, ok := byDigest[s]; ok {
							out[d] = strings.TrimSuffix(prefix, ".")
						}
						continue
					}
				}
				if err := walk(x, prefix); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(claims, ""); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeDisclosure(d string) ([]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(d)
	if err != nil {
		return nil, fmt.Errorf("%w: disclosure encoding: %v", credential.ErrMalformed, err)
	}
	var arr []any
	if err := jsonv2.Unmarshal(raw, &arr); err != nil {
		return nil, fmt.Errorf("%w: disclosure JSON: %v", credential.ErrMalformed, err)
	}
	if len(arr) != 2 && len(arr) != 3 {
		return nil, fmt.Errorf("%w: disclosure of %d elements", credential.ErrMalformed, len(arr))
	}
	if _, ok := arr[0].(string); !ok {
		return nil, fmt.Errorf("%w: disclosure salt", credential.ErrMalformed)
	}
	if len(arr) == 3 {
		if _, ok := arr[1].(string); !ok {
			return nil, fmt.Errorf("%w: disclosure claim name", credential.ErrMalformed)
		}
	}
	return arr, nil
}
