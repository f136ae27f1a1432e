package proofing_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/status/entry"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// cardsHarness is a Cards over a real store and real status lists.
type cardsHarness struct {
	cards  *proofing.Cards
	store  *store.Proofing
	status *status.Service
	events *proofingtest.Events
	recs   proofingtest.Records
}

func newCardsHarness(t *testing.T, db *store.DB, client, idLimit *proofing.Limiter) *cardsHarness {
	t.Helper()
	h := &cardsHarness{store: db.Proofing(), status: status.NewService(db.Status(), nil, "https://id.example/status"),
		events: &proofingtest.Events{}, recs: proofingtest.Records{}}
	var err error
	h.cards, err = proofing.NewCards(proofing.CardsConfig{Store: h.store, Records: h.recs,
		Status: h.status, Log: h.events, Client: client, IDNumber: idLimit})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// issue seeds an active card for id with a fresh status entry.
func (h *cardsHarness) issue(t *testing.T, cardID string, id registry.IDNumber, at time.Time) proofing.Card {
	t.Helper()
	ref, err := h.status.Allocate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := proofing.Card{ID: cardID, SessionID: "s-" + cardID, Subject: h.cards.Subject(id), IDNumber: []byte("sealed"),
		DeviceKey: []byte(`{}`), DeviceThumb: "thumb-" + cardID, StatusURI: ref.URI, StatusIndex: ref.Index,
		State: proofing.CardActive, CreatedAt: at}
	if err := proofingtest.SeedCard(context.Background(), h.store, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *cardsHarness) statusOf(t *testing.T, c proofing.Card) status.Status {
	t.Helper()
	st, err := h.status.Get(context.Background(), status.Ref{URI: c.StatusURI, Index: c.StatusIndex})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func ref(c proofing.Card) proofing.StatusRef {
	return proofing.StatusRef{URI: c.StatusURI, Index: c.StatusIndex}
}

var codeFormat = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$`)

func TestCardsLostPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := newCardsHarness(t, db, proofing.NewLimiter(time.Second, 100, 100), proofing.NewLimiter(time.Second, 100, 100))
		t0 := time.Now().UTC()
		mine := h.issue(t, "c-zhang", zhang.IDNumber, t0)
		other := h.issue(t, "c-li", li.IDNumber, t0)

		code, err := h.cards.IssueRevocationCode(ctx, ref(mine))
		if err != nil || !codeFormat.MatchString(code) {
			t.Fatalf("code %q: %v", code, err)
		}
		if _, err := h.cards.IssueRevocationCode(ctx, ref(mine)); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("second code for one card: %v", err)
		}
		if _, err := h.cards.IssueRevocationCode(ctx, proofing.StatusRef{URI: "https://id.example/status/x", Index: 1}); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("code for an unknown card: %v", err)
		}
		otherCode, err := h.cards.IssueRevocationCode(ctx, ref(other))
		if err != nil {
			t.Fatal(err)
		}

		refused := []struct{ name, id, code string }{
			{"wrong code", string(zhang.IDNumber), strings.Replace(code, code[:1], map[bool]string{true: "1", false: "0"}[code[0] == '0'], 1)},
			{"someone else's code", string(zhang.IDNumber), otherCode},
			{"unknown ID number", "440106198001010019", code},
			{"empty code", string(zhang.IDNumber), ""},
			{"code without the ID's subject", string(li.IDNumber), code},
		}
		for _, tc := range refused {
			if n, err := h.cards.SuspendLost(ctx, tc.id, tc.code, "198.51.100."+tc.name[:1]); !errors.Is(err, proofing.ErrCodeRefused) || n != 0 {
				t.Fatalf("%s: %d %v", tc.name, n, err)
			}
		}
		if _, err := h.cards.SuspendLost(ctx, "110105194912310021", code, "198.51.100.9"); !errors.Is(err, proofing.ErrBadRequest) {
			t.Fatalf("bad check digit: %v", err)
		}
		if h.statusOf(t, mine) != status.Valid || h.statusOf(t, other) != status.Valid {
			t.Fatal("a refused attempt changed a card")
		}

		// As typed on paper: lower case, spaces instead of hyphens, O for 0.
		typed := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(code, "-", " "), "0", "O"))
		n, err := h.cards.SuspendLost(ctx, " "+strings.ToLower(string(zhang.IDNumber))+" ", typed, "198.51.100.1")
		if err != nil || n != 1 {
			t.Fatalf("lost-phone suspension: %d %v", n, err)
		}
		if h.statusOf(t, mine) != status.Suspended || h.statusOf(t, other) != status.Valid {
			t.Fatal("wrong cards suspended")
		}
		if _, err := h.cards.SuspendLost(ctx, string(zhang.IDNumber), code, "198.51.100.1"); !errors.Is(err, proofing.ErrCodeRefused) {
			t.Fatalf("a spent code worked again: %v", err)
		}
		if got := h.events.Actions(); len(got) != 1 || got[0] != "suspend by "+proofing.ByCitizenCode {
			t.Fatalf("logged actions %v", got)
		}

		// The authority reinstates at a counter; the wallet may then get a
		// new code, the old one stays spent.
		if old, err := h.cards.SetCardStatus(ctx, mine.ID, proofing.StatusValid, proofing.ByAuthority); err != nil || old != proofing.StatusSuspended {
			t.Fatalf("reinstate: %s %v", old, err)
		}
		code2, err := h.cards.IssueRevocationCode(ctx, ref(mine))
		if err != nil || code2 == code {
			t.Fatalf("new code after reinstatement: %q %v", code2, err)
		}

		// Revocation is final, and marks the record.
		if _, err := h.cards.SetCardStatus(ctx, mine.ID, proofing.StatusRevoked, proofing.ByAuthority); err != nil {
			t.Fatal(err)
		}
		if c, _ := h.store.Card(ctx, mine.ID); c.State != proofing.CardRevoked || h.statusOf(t, mine) != status.Invalid {
			t.Fatalf("revoked card: %s %v", c.State, h.statusOf(t, mine))
		}
		for _, next := range []string{proofing.StatusValid, proofing.StatusSuspended} {
			if _, err := h.cards.SetCardStatus(ctx, mine.ID, next, proofing.ByAuthority); !errors.Is(err, proofing.ErrFinal) {
				t.Fatalf("%s after revocation: %v", next, err)
			}
		}
		if _, err := h.cards.SuspendLost(ctx, string(zhang.IDNumber), code2, "198.51.100.1"); !errors.Is(err, proofing.ErrCodeRefused) {
			t.Fatalf("a revoked card's code: %v", err)
		}
		if _, err := h.cards.SetCardStatus(ctx, "nope", proofing.StatusSuspended, proofing.ByAuthority); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("unknown card: %v", err)
		}
		if _, err := h.cards.SetCardStatus(ctx, other.ID, "deleted", proofing.ByAuthority); !errors.Is(err, proofing.ErrBadRequest) {
			t.Fatalf("unknown status: %v", err)
		}
		list, err := h.cards.CardsOf(ctx, zhang.IDNumber)
		if err != nil || len(list) != 1 || list[0].Status != proofing.StatusRevoked || list[0].State != proofing.CardRevoked {
			t.Fatalf("zhang's cards: %+v %v", list, err)
		}
		want := []string{"suspend by " + proofing.ByCitizenCode, "reinstate by authority", "revoke by authority"}
		if got := h.events.Actions(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("logged actions %v, want %v", got, want)
		}
	})
}

func TestCardsLostPhoneRateLimits(t *testing.T) {
	db := storetest.SQLite(t)
	h := newCardsHarness(t, db, proofing.NewLimiter(time.Hour, 4, 100), proofing.NewLimiter(time.Hour, 2, 100))
	ctx := context.Background()
	c := h.issue(t, "c1", zhang.IDNumber, time.Now())
	code, err := h.cards.IssueRevocationCode(ctx, ref(c))
	if err != nil {
		t.Fatal(err)
	}
	// Per ID number, whatever the address: two tries, then refused even
	// with the right code.
	for i, addr := range []string{"a", "b"} {
		if _, err := h.cards.SuspendLost(ctx, string(zhang.IDNumber), "WRONG", addr); !errors.Is(err, proofing.ErrCodeRefused) {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	var rl *proofing.RateLimitError
	if _, err := h.cards.SuspendLost(ctx, string(zhang.IDNumber), code, "c"); !errors.As(err, &rl) || rl.Scope != "id_number" || rl.RetryAfter <= 0 {
		t.Fatalf("third try on one ID number: %v", err)
	}
	// Per client address, whatever the ID number (unknown ones count too).
	for i, id := range []string{string(li.IDNumber), "440106198001010019", "110105199001011232", "440106198001010019"} {
		if _, err := h.cards.SuspendLost(ctx, id, "WRONG", "d"); !errors.Is(err, proofing.ErrCodeRefused) {
			t.Fatalf("try %d from one address: %v", i, err)
		}
	}
	if _, err := h.cards.SuspendLost(ctx, string(li.IDNumber), "WRONG", "d"); !errors.As(err, &rl) || rl.Scope != "client" {
		t.Fatalf("fifth try from one address: %v", err)
	}
	if h.statusOf(t, c) != status.Valid {
		t.Fatal("a limited attempt suspended the card")
	}
}

func TestRevocationCodeNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"abcd-efgh-jkmn-pqrs-tvwx": "ABCDEFGHJKMNPQRSTVWX",
		" o1il 0000\t":             "0111" + "0000",
		"":                         "",
	} {
		if got := proofing.NormalizeRevocationCode(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if string(proofing.RevocationCodeHash("s1", "ABCD")) == string(proofing.RevocationCodeHash("s2", "ABCD")) {
		t.Error("the hash does not bind the subject")
	}
	if string(proofing.RevocationCodeHash("s1", "ab-cd")) != string(proofing.RevocationCodeHash("s1", "ABCD")) {
		t.Error("the hash is not of the normalised code")
	}
}

// TestStatusWords: the card status words are the shared vocabulary's
// (status/entry), not a second one.
func TestStatusWords(t *testing.T) {
	for word, st := range map[string]entry.Status{proofing.StatusValid: entry.Valid,
		proofing.StatusSuspended: entry.Suspended, proofing.StatusRevoked: entry.Invalid} {
		if st.Word() != word {
			t.Errorf("proofing says %q, status/entry says %q", word, st.Word())
		}
	}
}

// TestCardsLostPhoneBatch: the lost-phone suspension reaches the card's
// single-use credentials, and the revocation code can be asked for with any
// of them (the wallet presents one).
func TestCardsLostPhoneBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := newCardsHarness(t, db, proofing.NewLimiter(time.Second, 100, 100), proofing.NewLimiter(time.Second, 100, 100))
		t0 := time.Now().UTC()
		mine := h.issue(t, "c-zhang", zhang.IDNumber, t0)
		batch, err := h.status.AllocateBatch(ctx, 5)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.AddCardEntries(ctx, mine.ID, batch, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		code, err := h.cards.IssueRevocationCode(ctx, batch[2])
		if err != nil {
			t.Fatalf("code asked with a single-use credential: %v", err)
		}
		if n, err := h.cards.SuspendLost(ctx, string(zhang.IDNumber), code, "198.51.100.1"); err != nil || n != 1 {
			t.Fatalf("suspend: %d %v", n, err)
		}
		for _, r := range append([]proofing.StatusRef{ref(mine)}, batch...) {
			if st, err := h.status.Get(ctx, r); err != nil || st != status.Suspended {
				t.Fatalf("entry %v is %v after the lost-phone suspension (%v)", r, st, err)
			}
		}
	})
}
