package status

import (
	"crypto/sha256"
	"encoding/base64"
)

// etag is a strong HTTP validator of a token: a hash of its bytes.
func etag(token string) string {
	h := sha256.Sum256([]byte(token))
	return `"` + base64.RawURLEncoding.EncodeToString(h[:18]) + `"`
}
