package credential

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// Label is a claim's display name in one language.
type Label struct {
	// Locale is the BCP 47 language tag ("en", "zh").
	Locale string `json:"locale"`
	// Label is the display name.
	Label string `json:"label"`
}

// labels are the display names of the attribute keys, English then
// Chinese (the wallet's i18n tables use the same words).
var labels = map[string][2]string{
	"family_name":        {"Family name", "姓"},
	"given_name":         {"Given name", "名"},
	"name_original":      {"Name (original script)", "姓名（原文）"},
	"sex":                {"Sex", "性别"},
	"birth_date":         {"Date of birth", "出生日期"},
	"ethnicity":          {"Ethnicity", "民族"},
	"nationality":        {"Nationality", "国籍"},
	"address":            {"Address", "住址"},
	"id_number":          {"ID number", "公民身份号码"},
	"issuing_authority":  {"Issuing authority", "签发机关"},
	"issuing_country":    {"Issuing country", "签发国"},
	"issuance_date":      {"Date of issue", "签发日期"},
	"expiry_date":        {"Valid until", "有效期至"},
	"portrait":           {"Portrait", "照片"},
	"portrait_thumbnail": {"Portrait (small)", "照片（缩略图）"},
	// The SD-JWT VC container of the age predicates.
	"age_equal_or_over": {"Age over", "年龄已满"},
}

// Labels returns the display names of attribute key (e.g. "birth_date",
// "age_over_18") in English and Chinese; nil for an unknown key.
func Labels(key string) []Label {
	if l, ok := labels[key]; ok {
		return []Label{{"en", l[0]}, {"zh", l[1]}}
	}
	if n, ok := ageKey(key); ok {
		s := strconv.Itoa(n)
		return []Label{{"en", "Age " + s + " or over"}, {"zh", "已满" + s + "周岁"}}
	}
	return nil
}

// ClaimInfo names one attribute of a profile in both encodings.
type ClaimInfo struct {
	// Key is the profile-independent name.
	Key string
	// JWT is the SD-JWT VC claim path; Mdoc the element identifier in the
	// profile's namespace.
	JWT  []string
	Mdoc string
}

// Claims lists the profile's attributes in card order.
func (pr Profile) Claims() []ClaimInfo {
	out := make([]ClaimInfo, 0, len(pr.order))
	for _, k := range pr.order {
		n := pr.names[k]
		out = append(out, ClaimInfo{Key: k, JWT: splitPath(n[0]), Mdoc: n[1]})
	}
	return out
}

// TypeMetadata is an SD-JWT VC type metadata document
// (draft-ietf-oauth-sd-jwt-vc, "Type Metadata").
type TypeMetadata struct {
	VCT         string          `json:"vct"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Display     []TypeDisplay   `json:"display,omitempty"`
	Claims      []TypeClaimInfo `json:"claims,omitempty"`
}

// TypeDisplay is the type's display name in one language.
type TypeDisplay struct {
	Locale      string `json:"locale"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// TypeClaimInfo is the metadata of one claim: its path, display names and
// selective disclosure ("always": shenfen discloses every attribute
// selectively).
type TypeClaimInfo struct {
	Path    []string `json:"path"`
	Display []Label  `json:"display,omitempty"`
	SD      string   `json:"sd,omitempty"`
}

// Card display names, English and Chinese.
var cardNames = map[string][2]string{
	"cn": {"Resident identity card", "居民身份证"},
	"eu": {"Person identification data", "个人身份数据"},
	"qr": {"Offline QR card", "离线二维码身份证"},
}

// DisplayNames returns the card's display name in English and Chinese.
func (pr Profile) DisplayNames() [2]string {
	if n, ok := cardNames[pr.Name]; ok {
		return n
	}
	return [2]string{pr.Name, pr.Name}
}

// TypeMetadata returns the type metadata document of the profile's vct.
func (pr Profile) TypeMetadata() TypeMetadata {
	n := pr.DisplayNames()
	tm := TypeMetadata{VCT: pr.VCT, Name: "shenfen " + n[0],
		Display: []TypeDisplay{{Locale: "en", Name: n[0]}, {Locale: "zh", Name: n[1]}}}
	containers := map[string]bool{}
	for _, c := range pr.Claims() {
		// A nested claim's container is itself selectively disclosable
		// (sdjwt.Issue): list it once, before its members.
		if len(c.JWT) == 2 && !containers[c.JWT[0]] {
			containers[c.JWT[0]] = true
			tm.Claims = append(tm.Claims, TypeClaimInfo{Path: c.JWT[:1], Display: Labels(c.JWT[0]), SD: "always"})
		}
		tm.Claims = append(tm.Claims, TypeClaimInfo{Path: c.JWT, Display: Labels(c.Key), SD: "always"})
	}
	return tm
}

// TypeMetadataJSON returns the serialized type metadata document (the
// bytes served and digested by [Profile.VCTIntegrity]).
func (pr Profile) TypeMetadataJSON() []byte {
	b, err := json.Marshal(pr.TypeMetadata())
	if err != nil {
		panic("credential: type metadata: " + err.Error()) // only strings: cannot fail
	}
	return b
}

// VCTIntegrity is the vct#integrity value of the profile's credentials:
// the W3C Subresource Integrity string ("sha256-" and the base64 SHA-256)
// of [Profile.TypeMetadataJSON].
func (pr Profile) VCTIntegrity() string {
	h := sha256.Sum256(pr.TypeMetadataJSON())
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}
