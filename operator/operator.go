// Package operator is who may do what on the authority's side: named
// operators with roles, the permissions each role grants, the reason an
// operator gives for touching a citizen's data, and the hashing of
// operators' sign-in secrets.
//
// Every admin route names one [Permission]; a principal (a signed-in
// operator, or a named machine token) may use the route only when one of
// its roles grants that permission in the [Policy]. Anything not granted
// is denied.
//
// The package imports no HTTP and no SQL.
package operator

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Role is an operator's role.
type Role string

// Roles.
const (
	// RegistryReader looks up records and cards (with a reason).
	RegistryReader Role = "registry-reader"
	// RegistryClerk adds and changes registry records, and cancels them.
	RegistryClerk Role = "registry-clerk"
	// CardOfficer suspends, revokes and reinstates cards.
	CardOfficer Role = "card-officer"
	// Auditor reads the access records and the operator list, never a
	// citizen's record.
	Auditor Role = "auditor"
	// Administrator manages operators and relying parties, never a
	// citizen's record.
	Administrator Role = "administrator"
)

// Roles lists every role.
var Roles = []Role{RegistryReader, RegistryClerk, CardOfficer, Auditor, Administrator}

// ParseRoles parses a comma-separated role list; unknown roles are errors.
func ParseRoles(s string) ([]Role, error) {
	var out []Role
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		r := Role(p)
		if !slices.Contains(Roles, r) {
			return nil, fmt.Errorf("%w: unknown role %q", ErrInvalid, p)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no role", ErrInvalid)
	}
	return out, nil
}

// FormatRoles is the comma-separated form of roles.
func FormatRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// Permission is what an admin route does.
type Permission string

// Permissions.
const (
	ReadRecord      Permission = "registry.read"    // a citizen's record
	WriteRecord     Permission = "registry.write"   // add or change a record
	RecordStatus    Permission = "registry.status"  // valid, cancelled, deceased
	ReadCards       Permission = "cards.read"       // a citizen's cards
	CardStatus      Permission = "cards.status"     // suspend, revoke, reinstate
	ReadRPs         Permission = "rps.read"         // relying parties
	ManageRPs       Permission = "rps.manage"       // register, change, remove RPs
	ReadStats       Permission = "stats.read"       // enrollment statistics (no personal data)
	ReadOperators   Permission = "operators.read"   // the operator list
	ManageOperators Permission = "operators.manage" // add, disable operators
	ReadAccesses    Permission = "accesses.read"    // every access record (audit)
	ReadApprovals   Permission = "approvals.read"   // pending four-eyes requests
)

// Policy is which roles grant which permissions, and which roles act
// alone on an irreversible change (revoking a card, cancelling a record).
type Policy struct {
	Grants map[Permission][]Role
	// Alone lists the roles whose irreversible changes take effect
	// without a second operator's approval. Empty (the default): every
	// irreversible change needs one.
	Alone []Role
}

// DefaultPolicy is the separation of duties shenfen ships with: readers
// and clerks see records, card officers change cards, auditors and
// administrators see no citizen's record at all.
func DefaultPolicy() Policy {
	return Policy{Grants: map[Permission][]Role{
		ReadRecord:      {RegistryReader, RegistryClerk, CardOfficer},
		WriteRecord:     {RegistryClerk},
		RecordStatus:    {RegistryClerk},
		ReadCards:       {RegistryReader, CardOfficer},
		CardStatus:      {CardOfficer},
		ReadRPs:         {Administrator, Auditor},
		ManageRPs:       {Administrator},
		ReadStats:       {Administrator, Auditor},
		ReadOperators:   {Administrator, Auditor},
		ManageOperators: {Administrator},
		ReadAccesses:    {Auditor},
		ReadApprovals:   {RegistryClerk, CardOfficer},
	}}
}

// Allows reports whether any of roles grants p.
func (p Policy) Allows(roles []Role, perm Permission) bool {
	for _, r := range p.Grants[perm] {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// NeedsApproval reports whether an irreversible change under perm by a
// principal with roles needs a second operator: yes unless one of the
// roles that grants it to them may act alone.
func (p Policy) NeedsApproval(roles []Role, perm Permission) bool {
	for _, r := range p.Grants[perm] {
		if slices.Contains(roles, r) && slices.Contains(p.Alone, r) {
			return false
		}
	}
	return true
}

// Kind tells people from machines.
type Kind string

// Kinds of principal.
const (
	Person  Kind = "operator"
	Machine Kind = "machine"
)

// Principal is who makes a request.
type Principal struct {
	// ID is the operator's sign-in name, or "machine:NAME" for a token.
	ID     string `json:"id"`
	Kind   Kind   `json:"kind"`
	Name   string `json:"name"`
	Badge  string `json:"badge,omitempty"`
	Office string `json:"office"`
	Roles  []Role `json:"roles"`
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p (set by the console's forwarding
// handler for a signed-in operator; a request from outside cannot carry it).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok && p.ID != ""
}

// Operator is a stored operator.
type Operator struct {
	ID     string
	Name   string
	Badge  string
	Office string
	Roles  []Role
	// SecretHash is the PHC-style hash of the sign-in secret (see [HashSecret]).
	SecretHash string
	Disabled   bool
	CreatedAt  time.Time
}

// Principal is the operator as a request's principal.
func (o Operator) Principal() Principal {
	return Principal{ID: o.ID, Kind: Person, Name: o.Name, Badge: o.Badge, Office: o.Office, Roles: o.Roles}
}

// Check validates an operator before it is stored.
func (o Operator) Check() error {
	switch {
	case !validID(o.ID):
		return fmt.Errorf("%w: operator id must be 3-64 of a-z 0-9 . _ -", ErrInvalid)
	case o.Name == "" || len(o.Name) > 128:
		return fmt.Errorf("%w: operator name", ErrInvalid)
	case len(o.Badge) > 32 || o.Office == "" || len(o.Office) > 128:
		return fmt.Errorf("%w: badge or office", ErrInvalid)
	case len(o.Roles) == 0:
		return fmt.Errorf("%w: no role", ErrInvalid)
	}
	for _, r := range o.Roles {
		if !slices.Contains(Roles, r) {
			return fmt.Errorf("%w: unknown role %q", ErrInvalid, r)
		}
	}
	return nil
}

func validID(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Errors.
var (
	ErrInvalid   = errors.New("operator: invalid")
	ErrNotFound  = errors.New("operator: not found")
	ErrConflict  = errors.New("operator: conflict")
	ErrBadSecret = errors.New("operator: wrong secret")
)

// Purposes an operator may give as the reason for an access, without or
// with a case number.
var Purposes = []string{
	"counter-service",     // the citizen is at the counter and asked
	"lost-card",           // the citizen reported a lost or stolen card
	"registry-correction", // correcting a record on the citizen's request or from a civil-status act
	"civil-status",        // a birth, death or name change registered
	"court-order",         // a court's order (with its case number)
	"police-case",         // a police investigation (with its case number)
	"data-quality",        // registry data-quality work
	"registry-load",       // loading the registry from its source of record (bulk import)
}

// Reason is why an operator touched a citizen's data: a purpose from
// [Purposes], a case number, or both.
type Reason struct {
	Purpose string `json:"purpose,omitempty"`
	Case    string `json:"case,omitempty"`
}

// ErrNoReason: an access to a citizen's data without a valid reason.
var ErrNoReason = errors.New("operator: a reason is required")

// ParseReason parses "purpose=P; case=C" (either part may be left out, not
// both). A case number is 1-64 printable ASCII characters without ';'.
func ParseReason(s string) (Reason, error) {
	var r Reason
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return Reason{}, fmt.Errorf("%w: %q is not key=value", ErrNoReason, part)
		case k == "purpose" && r.Purpose == "":
			if !slices.Contains(Purposes, v) {
				return Reason{}, fmt.Errorf("%w: unknown purpose %q", ErrNoReason, v)
			}
			r.Purpose = v
		case k == "case" && r.Case == "":
			if len(v) == 0 || len(v) > 64 {
				return Reason{}, fmt.Errorf("%w: a case number has 1 to 64 characters", ErrNoReason)
			}
			for _, c := range v {
				if c < 0x21 || c > 0x7e {
					return Reason{}, fmt.Errorf("%w: a case number is printable ASCII", ErrNoReason)
				}
			}
			r.Case = v
		default:
			return Reason{}, fmt.Errorf("%w: unexpected %q", ErrNoReason, k)
		}
	}
	if r.Purpose == "" && r.Case == "" {
		return Reason{}, ErrNoReason
	}
	return r, nil
}

// String is the reason in the syntax [ParseReason] reads.
func (r Reason) String() string {
	var p []string
	if r.Purpose != "" {
		p = append(p, "purpose="+r.Purpose)
	}
	if r.Case != "" {
		p = append(p, "case="+r.Case)
	}
	return strings.Join(p, "; ")
}

// SecretIterations is the PBKDF2-HMAC-SHA256 work factor of new hashes
// (OWASP's 2023 figure); tests may lower it.
var SecretIterations = 600_000

// NewSecret returns a random sign-in secret (24 bytes, base64url): the
// authority hands it to the operator, who never picks one.
func NewSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret returns "pbkdf2-sha256$ITER$SALT$HASH" of secret.
func HashSecret(secret string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	h, err := pbkdf2.Key(sha256.New, secret, salt, SecretIterations, 32)
	if err != nil {
		return "", fmt.Errorf("operator: hash secret: %w", err)
	}
	enc := base64.RawStdEncoding
	return "pbkdf2-sha256$" + strconv.Itoa(SecretIterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(h), nil
}

// dummyHash is checked against when the operator does not exist, so that
// a sign-in takes as long for an unknown name as for a wrong secret.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashSecret("no such operator")
	return h
})

// CheckSecret reports whether secret matches the hash, comparing in
// constant time. An empty hash (unknown operator) spends the same work and
// fails.
func CheckSecret(hash, secret string) error {
	real := hash != ""
	if !real {
		hash = dummyHash()
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return fmt.Errorf("%w: unknown hash format", ErrBadSecret)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return fmt.Errorf("%w: bad work factor", ErrBadSecret)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) != 32 {
		return fmt.Errorf("%w: bad hash", ErrBadSecret)
	}
	got, err := pbkdf2.Key(sha256.New, secret, salt, iter, 32)
	if err != nil {
		return fmt.Errorf("operator: hash secret: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 || !real {
		return ErrBadSecret
	}
	return nil
}

// Approval is a four-eyes request: an irreversible change that one
// operator asked for and a second must approve before it takes effect.
type Approval struct {
	ID         string
	Permission Permission
	// Requester is the asking principal's ID; Approver the deciding one's.
	Requester string
	// State is "pending", "approved" or "rejected".
	State     string
	Approver  string
	CreatedAt time.Time
	DecidedAt time.Time
	// Sealed is the request to carry out, sealed at rest (it names the
	// citizen).
	Sealed []byte
}
