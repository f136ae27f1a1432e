package credential

import (
	"strconv"
	"time"
)

// Attribute is one claim of a card with its names in both encodings.
type Attribute struct {
	// Key is the profile-independent name (e.g. "birth_date", "age_over_18").
	Key string
	// JWT is the SD-JWT VC claim path: one name for a top-level claim, two for
	// a claim nested in an object (e.g. ["age_equal_or_over", "18"]).
	JWT []string
	// Mdoc is the mdoc element identifier in the profile's namespace.
	Mdoc string
	// Value is a string, Date, bool, Sex, []string or []byte (JPEG).
	Value any
}

// Profile chooses a card's attribute set and its names in each encoding.
type Profile struct {
	// Name identifies the profile in configuration ("cn", "eu", "qr").
	Name string
	// VCT is the SD-JWT VC type; DocType and Namespace the mdoc ones.
	VCT, DocType, Namespace string
	// names maps attribute keys to [JWT path, mdoc identifier]; keys not in
	// it are not on the card.
	names map[string][2]string
	order []string
}

func profile(name, vct, docType, ns string, pairs ...[3]string) Profile {
	p := Profile{Name: name, VCT: vct, DocType: docType, Namespace: ns, names: map[string][2]string{}}
	for _, t := range pairs {
		p.names[t[0]] = [2]string{t[1], t[2]}
		p.order = append(p.order, t[0])
	}
	return p
}

func ageNames(jwtPrefix string) [][3]string {
	var out [][3]string
	for _, n := range AgeThresholds {
		s := strconv.Itoa(n)
		out = append(out, [3]string{"age_over_" + s, jwtPrefix + s, "age_over_" + s})
	}
	return out
}

// ProfileCN is the default profile: a China resident identity card.
var ProfileCN = profile("cn", "urn:shenfen:pid:cn:1", "org.shenfen.pid.cn.1", "org.shenfen.pid.cn.1",
	append([][3]string{
		{"family_name", "family_name", "family_name"},
		{"given_name", "given_name", "given_name"},
		{"name_original", "name_original", "name_original"},
		{"sex", "sex", "sex"},
		{"birth_date", "birthdate", "birth_date"},
		{"ethnicity", "ethnicity", "ethnicity"},
		{"nationality", "nationalities", "nationality"},
		{"address", "address.formatted", "resident_address"},
		{"id_number", "id_number", "id_number"},
		{"issuing_authority", "issuing_authority", "issuing_authority"},
		{"issuing_country", "issuing_country", "issuing_country"},
		{"issuance_date", "date_of_issuance", "issue_date"},
		{"expiry_date", "date_of_expiry", "expiry_date"},
		{"portrait", "picture", "portrait"},
	}, ageNames("age_equal_or_over.")...)...)

// ProfileEU is an EU PID-compatible profile (names of the PID rulebook:
// mdoc eu.europa.ec.eudi.pid.1, SD-JWT VC urn:eudi:pid:1).
var ProfileEU = profile("eu", "urn:eudi:pid:1", "eu.europa.ec.eudi.pid.1", "eu.europa.ec.eudi.pid.1",
	append([][3]string{
		{"family_name", "family_name", "family_name"},
		{"given_name", "given_name", "given_name"},
		{"sex", "sex", "sex"},
		{"birth_date", "birthdate", "birth_date"},
		{"nationality", "nationalities", "nationality"},
		{"address", "address.formatted", "resident_address"},
		{"id_number", "personal_administrative_number", "personal_administrative_number"},
		{"issuing_authority", "issuing_authority", "issuing_authority"},
		{"issuing_country", "issuing_country", "issuing_country"},
		{"issuance_date", "date_of_issuance", "issuance_date"},
		{"expiry_date", "date_of_expiry", "expiry_date"},
		{"portrait", "picture", "portrait"},
	}, ageNames("age_equal_or_over.")...)...)

// ProfileQR is the compact card for the offline QR presentation: few
// elements, and the issuer-made portrait thumbnail instead of the portrait.
var ProfileQR = profile("qr", "", "org.shenfen.pid.qr.1", "org.shenfen.pid.qr.1",
	[][3]string{
		{"family_name", "family_name", "family_name"},
		{"given_name", "given_name", "given_name"},
		{"name_original", "name_original", "name_original"},
		{"birth_date", "birthdate", "birth_date"},
		{"id_number", "id_number", "id_number"},
		{"expiry_date", "date_of_expiry", "expiry_date"},
		{"portrait_thumbnail", "picture_thumbnail", "portrait_thumbnail"},
		// Every element costs a digest in the MSO: only the two age
		// predicates asked for in person (alcohol, senior fares).
		{"age_over_18", "age_equal_or_over.18", "age_over_18"},
		{"age_over_60", "age_equal_or_over.60", "age_over_60"},
	}...)

// Profiles lists the profiles by name.
var Profiles = map[string]Profile{"cn": ProfileCN, "eu": ProfileEU, "qr": ProfileQR}

// Attributes returns the card's attributes under profile pr, with age
// predicates computed on day at (the issuance time). Empty values are left out.
func (pr Profile) Attributes(p PID, at time.Time) []Attribute {
	out := make([]Attribute, 0, len(pr.order))
	age := p.AgeAt(at)
	for _, k := range pr.order {
		var v any
		switch k {
		case "family_name":
			v = p.FamilyName
		case "given_name":
			v = p.GivenName
		case "name_original":
			v = p.NameOriginal
		case "sex":
			v = p.Sex
		case "birth_date":
			v = p.BirthDate
		case "ethnicity":
			v = p.Ethnicity
		case "nationality":
			if len(p.Nationality) > 0 {
				v = p.Nationality
			}
		case "address":
			v = p.Address
		case "id_number":
			v = p.IDNumber
		case "issuing_authority":
			v = p.Authority
		case "issuing_country":
			v = p.Country
		case "issuance_date":
			v = p.IssuedOn
		case "expiry_date":
			v = p.ExpiresOn
		case "portrait":
			if len(p.Portrait) > 0 {
				v = p.Portrait
			}
		case "portrait_thumbnail":
			if len(p.Thumbnail) > 0 {
				v = p.Thumbnail
			}
		default:
			if n, ok := ageKey(k); ok {
				v = age >= n
			}
		}
		if v == nil || v == "" || v == Date("") {
			continue
		}
		names := pr.names[k]
		out = append(out, Attribute{Key: k, JWT: splitPath(names[0]), Mdoc: names[1], Value: v})
	}
	return out
}

func ageKey(k string) (int, bool) {
	const pre = "age_over_"
	if len(k) <= len(pre) || k[:len(pre)] != pre {
		return 0, false
	}
	n, err := strconv.Atoi(k[len(pre):])
	return n, err == nil
}

func splitPath(s string) []string {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return []string{s[:i], s[i+1:]}
		}
	}
	return []string{s}
}
