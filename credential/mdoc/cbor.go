// Package mdoc encodes shenfen's card as an ISO/IEC 18013-5 mdoc: issuer
// signed items (tag 24) whose SHA-256 digests are in a Mobile Security
// Object signed with COSE_Sign1 (x5chain in header 33), the device key in
// DeviceKeyInfo, validity info and a Token Status List reference; the holder
// presents a DeviceResponse with a subset of items and a DeviceAuth
// signature over the SessionTranscript (which carries the verifier's nonce
// and identity).
//
// CBOR is fxamacker/cbor decoded in a strict mode (duplicate map keys
// refused, bounded nesting, array and map sizes, no indefinite lengths);
// the verifier decodes a DeviceResponse, its COSE_Sign1 structures
// included, in one pass and verifies the signatures with veraison/go-cose's
// ES256 verifier over Sig_structures hashed from the received bytes. The mdoc data structures are written here
// because no maintained Go library implements 18013-5.
package mdoc

import (
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/shenfen/shenfen/credential"
)

// Limits of the strict decoder.
const (
	MaxNesting  = 16
	MaxElements = 1024
	// MaxSize is the default bound on a DeviceResponse in bytes.
	MaxSize = 1 << 20
)

var (
	decMode cbor.DecMode
	encMode cbor.EncMode
)

func init() {
	var err error
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  MaxNesting,
		MaxArrayElements: MaxElements,
		MaxMapPairs:      MaxElements,
		// Tags are allowed by the decoder but checked against
		// allowedTags by checkTags before every decode.
		TagsMd: cbor.TagsAllowed,
		// Integers into any: int64, or an error beyond its range.
		IntDec: cbor.IntDecConvertSignedOrFail,
		UTF8:   cbor.UTF8RejectInvalid,
		// 18013-5 names are exact: "docType" does not match "doctype".
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	encMode, err = cbor.EncOptions{
		Sort:    cbor.SortCoreDeterministic,
		Time:    cbor.TimeRFC3339,
		TimeTag: cbor.EncTagRequired,
	}.EncMode()
	if err != nil {
		panic(err)
	}
}

// allowedTags are the CBOR tags ISO/IEC 18013-5 uses: 24 (encoded CBOR
// data item: IssuerSignedItemBytes, MobileSecurityObjectBytes,
// DeviceNameSpacesBytes, SessionTranscriptBytes ...), 0 (tdate) and 1004
// (full-date, RFC 8943). Any other tag (bignums, epoch times, COSE tag 18,
// self-described CBOR, ...) is refused before decoding.
var allowedTags = map[uint64]bool{0: true, 24: true, 1004: true}

// maxWalkDepth bounds checkTags' stack (arrays, maps and tags each add a
// level); the decoder's own limit, MaxNesting, is lower.
const maxWalkDepth = 4 * MaxNesting

// checkTags walks one CBOR data item (and whatever follows it) and refuses
// any tag outside allowedTags, indefinite lengths and truncated items.
func checkTags(data []byte) error {
	pending := []uint64{1} // data items left at each open level
	for len(pending) > 0 {
		top := len(pending) - 1
		if pending[top] == 0 {
			pending = pending[:top]
			continue
		}
		pending[top]--
		major, arg, n, ok := head(data)
		if !ok {
			return fmt.Errorf("truncated item or indefinite length")
		}
		data = data[n:]
		switch major {
		case majorBytes, majorText:
			if arg > uint64(len(data)) {
				return fmt.Errorf("string of %d bytes in %d", arg, len(data))
			}
			data = data[arg:]
		case majorArray, majorMap:
			if arg > MaxElements {
				return fmt.Errorf("%w: %d elements (limit %d)", errTooMany, arg, MaxElements)
			}
			items := arg
			if major == majorMap {
				if arg > uint64(len(data))/2 {
					return fmt.Errorf("map of %d pairs in %d bytes", arg, len(data))
				}
				items = 2 * arg
			}
			if items > uint64(len(data)) {
				return fmt.Errorf("array of %d items in %d bytes", arg, len(data))
			}
			pending = append(pending, items)
		case 6:
			if !allowedTags[arg] {
				return fmt.Errorf("CBOR tag %d is not allowed", arg)
			}
			pending = append(pending, 1)
		}
		if len(pending) > maxWalkDepth {
			return fmt.Errorf("nested deeper than %d", maxWalkDepth)
		}
	}
	return nil
}

// errTooMany: an array or map over MaxElements.
var errTooMany = errors.New("too many elements")

// decode is decMode.Unmarshal after checkTags.
func decode(data []byte, v any) error {
	if err := checkTags(data); err != nil {
		return err
	}
	return decMode.Unmarshal(data, v)
}

// unmarshal decodes strictly, mapping every error to ErrMalformed (or
// ErrTooLarge for size limits).
func unmarshal(data []byte, v any, what string) error {
	if err := decode(data, v); err != nil {
		switch err.(type) {
		case *cbor.MaxArrayElementsError, *cbor.MaxMapPairsError:
			return fmt.Errorf("%w: %s: %v", credential.ErrTooLarge, what, err)
		}
		if errors.Is(err, errTooMany) {
			return fmt.Errorf("%w: %s: %v", credential.ErrTooLarge, what, err)
		}
		return fmt.Errorf("%w: %s: %v", credential.ErrMalformed, what, err)
	}
	return nil
}

// tag24 wraps the encoding of v as #6.24(bstr .cbor v).
func tag24(v any) ([]byte, error) {
	inner, err := encMode.Marshal(v)
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(cbor.Tag{Number: 24, Content: inner})
}

// untag24 returns the content of an encoded #6.24(bstr): the tag head must
// be the two bytes 0xd8 0x18 (the only valid encoding of tag 24), followed
// by exactly one definite-length byte string. The content is a subslice of
// data, not a copy.
func untag24(data []byte, what string) ([]byte, error) {
	if len(data) < 2 || data[0] != 0xd8 || data[1] != 0x18 {
		return nil, fmt.Errorf("%w: %s: not tag 24", credential.ErrMalformed, what)
	}
	return bstrContent(data[2:], what)
}

// CBOR major types used here.
const (
	majorUint  = 0
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

// head decodes the initial byte and argument of a CBOR data item: its
// major type, argument and head length. ok is false for a truncated head,
// an indefinite length or a reserved additional information value.
func head(data []byte) (major byte, arg uint64, n int, ok bool) {
	if len(data) == 0 {
		return 0, 0, 0, false
	}
	major, ai := data[0]>>5, data[0]&0x1f
	switch {
	case ai < 24:
		return major, uint64(ai), 1, true
	case ai <= 27:
		n = 1 << (ai - 24) // 1, 2, 4 or 8 argument bytes
		if len(data) < 1+n {
			return 0, 0, 0, false
		}
		for _, b := range data[1 : 1+n] {
			arg = arg<<8 | uint64(b)
		}
		return major, arg, 1 + n, true
	}
	return 0, 0, 0, false
}

// bstrContent returns the content of data, which must be exactly one
// definite-length byte string, as a subslice (no copy).
func bstrContent(data []byte, what string) ([]byte, error) {
	major, n, h, ok := head(data)
	if !ok || major != majorBytes {
		return nil, fmt.Errorf("%w: %s: not a definite-length byte string", credential.ErrMalformed, what)
	}
	if uint64(len(data)-h) != n {
		return nil, fmt.Errorf("%w: %s: byte string of %d bytes in %d", credential.ErrMalformed, what, n, len(data)-h)
	}
	return data[h:], nil
}

// headLen is the length of the shortest head for argument n.
func headLen(n int) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case uint64(n) <= 0xffffffff:
		return 5
	}
	return 9
}

// appendHead appends the shortest head of a data item of the given major
// type and argument (the deterministic encoding of RFC 8949 4.2.1).
func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= 0xff:
		return append(dst, m|24, byte(n))
	case n <= 0xffff:
		return append(dst, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// fullDate is the CBOR full-date (tag 1004) of a credential.Date.
func fullDate(d credential.Date) cbor.Tag { return cbor.Tag{Number: 1004, Content: string(d)} }

// tdate is the 18013-5 tdate form: RFC 3339 in UTC without fractions.
func tdate(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// cborValue maps an attribute value to its mdoc CBOR form.
func cborValue(v any) any {
	switch v := v.(type) {
	case credential.Date:
		return fullDate(v)
	case credential.Sex:
		return uint(v)
	}
	return v
}

// plain turns decoded CBOR values into JSON-friendly Go values: tagged dates
// to strings, maps with text keys to map[string]any.
func plain(v any) any {
	switch v := v.(type) {
	case cbor.Tag:
		if s, ok := v.Content.(string); ok && (v.Number == 1004 || v.Number == 0) {
			return s
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = plain(x)
		}
		return m
	case []any:
		for i := range v {
			v[i] = plain(v[i])
		}
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case uint64:
		if v <= 1<<53 {
			return int64(v)
		}
	}
	return v
}
