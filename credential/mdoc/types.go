package mdoc

import (
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// DocType and namespace names are the profile's (credential.Profile).

// issuerSignedItem is IssuerSignedItem of 18013-5 8.3.2.1.2.2.
type issuerSignedItem struct {
	DigestID          uint64 `cbor:"digestID"`
	Random            []byte `cbor:"random"`
	ElementIdentifier string `cbor:"elementIdentifier"`
	ElementValue      any    `cbor:"elementValue"`
}

// IssuerSigned is what the issuer hands the wallet (and the wallet returns,
// reduced, in a DeviceResponse): the items, each kept as its exact
// #6.24-wrapped encoding since digests are over those bytes, and the
// COSE_Sign1 issuerAuth.
type IssuerSigned struct {
	NameSpaces map[string][]cbor.RawMessage `cbor:"nameSpaces,omitempty"`
	IssuerAuth cbor.RawMessage              `cbor:"issuerAuth"`
}

// mso is the MobileSecurityObject, plus the Token Status List reference.
type mso struct {
	Version         string               `cbor:"version"`
	DigestAlgorithm string               `cbor:"digestAlgorithm"`
	ValueDigests    map[string]digestMap `cbor:"valueDigests"`
	DeviceKeyInfo   deviceKeyInfo        `cbor:"deviceKeyInfo"`
	DocType         string               `cbor:"docType"`
	ValidityInfo    validityInfo         `cbor:"validityInfo"`
	Status          *statusClaim         `cbor:"status,omitempty"`
}

// digestMap is the DigestIDs map of one namespace (DigestID => Digest).
type digestMap map[uint64][]byte

// UnmarshalCBOR reads the map by a direct scan of its (already checked
// well-formed) encoding: unsigned integer keys, no duplicates, byte string
// values kept as subslices of data, which the verifier owns and never
// changes (this is the MSO's largest part; decoding it by reflection cost
// an allocation per digest).
func (d *digestMap) UnmarshalCBOR(data []byte) error {
	major, n, h, ok := head(data)
	if !ok || major != majorMap {
		return errors.New("DigestIDs is not a definite-length map")
	}
	if n > MaxElements {
		return &cbor.MaxMapPairsError{}
	}
	m := make(digestMap, n)
	p := data[h:]
	for range n {
		major, id, h, ok := head(p)
		if !ok || major != majorUint {
			return errors.New("DigestID is not an unsigned integer")
		}
		p = p[h:]
		major, l, h, ok := head(p)
		if !ok || major != majorBytes || l > uint64(len(p)-h) {
			return errors.New("the Digest is not a byte string")
		}
		if _, dup := m[id]; dup {
			return fmt.Errorf("DigestID %d twice", id)
		}
		end := h + int(l)
		m[id] = p[h:end:end]
		p = p[end:]
	}
	if len(p) != 0 {
		return errors.New("DigestIDs: trailing bytes")
	}
	*d = m
	return nil
}

type deviceKeyInfo struct {
	DeviceKey coseKey `cbor:"deviceKey"`
}

// coseKey is an EC2 COSE_Key (RFC 9052).
type coseKey struct {
	Kty int    `cbor:"1,keyasint"`
	Crv int    `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint"`
}

type validityInfo struct {
	Signed         time.Time  `cbor:"signed"`
	ValidFrom      time.Time  `cbor:"validFrom"`
	ValidUntil     time.Time  `cbor:"validUntil"`
	ExpectedUpdate *time.Time `cbor:"expectedUpdate,omitempty"`
}

// statusClaim is the Token Status List mapping for CBOR (draft-ietf-oauth-status-list).
type statusClaim struct {
	StatusList struct {
		Idx uint64 `cbor:"idx"`
		URI string `cbor:"uri"`
	} `cbor:"status_list"`
}

// DeviceResponse is the 18013-5 8.3.2.1.2.2 DeviceResponse.
type DeviceResponse struct {
	Version   string     `cbor:"version"`
	Documents []Document `cbor:"documents,omitempty"`
	Status    uint64     `cbor:"status"`
}

// Document is one document of a DeviceResponse.
type Document struct {
	DocType      string       `cbor:"docType"`
	IssuerSigned IssuerSigned `cbor:"issuerSigned"`
	DeviceSigned DeviceSigned `cbor:"deviceSigned"`
}

// DeviceSigned holds the device-signed namespaces (as #6.24 bytes) and the
// device signature.
type DeviceSigned struct {
	NameSpaces cbor.RawMessage `cbor:"nameSpaces"`
	DeviceAuth DeviceAuth      `cbor:"deviceAuth"`
}

// DeviceAuth carries the DeviceSignature (COSE_Sign1, detached payload).
type DeviceAuth struct {
	DeviceSignature cbor.RawMessage `cbor:"deviceSignature,omitempty"`
	DeviceMac       cbor.RawMessage `cbor:"deviceMac,omitempty"`
}
