package audit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func someAccess(subject string, i int) audit.Access {
	return audit.Access{Subject: subject, At: time.Date(2026, 12, 1, 9, i, 0, 0, time.UTC), Operator: "li.na",
		Kind: "operator", Name: "李娜", Badge: "440001", Office: "南沙分局", Action: "registry.read",
		Reason: "purpose=counter-service; case=NS-" + string(rune('0'+i))}
}

// recordFour logs a key rotation and four accesses; it returns their leaves.
func recordFour(t *testing.T, db *store.DB) (*audit.Log, []uint64) {
	ctx := context.Background()
	log, _, _ := newLogOn(t, db)
	if _, err := log.Append(ctx, audit.Event{Type: audit.EventKeyRotation, At: time.Now(), Ref: "k1"}); err != nil {
		t.Fatal(err)
	}
	var idx []uint64
	for i := range 4 {
		n, err := log.RecordAccess(ctx, someAccess([]string{"subject-one", "subject-two"}[i%2], i))
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, n)
	}
	return log, idx
}

// TestAccessCheckCleanLog: the check passes an untouched log.
func TestAccessCheckCleanLog(t *testing.T) {
	log, _ := recordFour(t, storetest.SQLite(t))
	if c, err := log.CheckAccesses(context.Background()); err != nil || c.Leaves != 4 || c.Records != 4 {
		t.Fatalf("untouched log: %+v %v", c, err)
	}
}

// TestAccessTamperDetected records accesses, then alters, deletes and
// moves access records in the database the way an insider with database
// access could: the check finds each.
func TestAccessTamperDetected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper string // SQL, run on the fourth access's leaf
		want   func(c audit.AccessCheck) []uint64
	}{
		{"deleted", `DELETE FROM audit_accesses WHERE leaf_idx = ?`, func(c audit.AccessCheck) []uint64 { return c.Missing }},
		{"sealed bytes altered", `UPDATE audit_accesses SET sealed = (SELECT sealed FROM audit_accesses WHERE leaf_idx = 1) WHERE leaf_idx = ?`,
			func(c audit.AccessCheck) []uint64 { return c.Altered }},
		{"moved to another citizen", `UPDATE audit_accesses SET subject = 'someone-else' WHERE leaf_idx = ?`,
			func(c audit.AccessCheck) []uint64 { return c.Altered }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.SQLite(t)
			log, idx := recordFour(t, db)
			if _, err := db.Exec(ctx, tc.tamper, int64(idx[3])); err != nil {
				t.Fatal(err)
			}
			c, err := log.CheckAccesses(ctx)
			if !errors.Is(err, audit.ErrTampered) || !slices.Equal(tc.want(c), []uint64{idx[3]}) {
				t.Fatalf("check after tampering: %+v %v", c, err)
			}
		})
	}
}

// TestAccessHistoryAndPublicLog: the history gives each access back, newest
// first, to its citizen only; the public leaves and the clear columns hold
// no name, badge, office, reason or subject.
func TestAccessHistoryAndPublicLog(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	log, _, _ := newLogOn(t, db)
	for i := range 3 {
		if _, err := log.RecordAccess(ctx, someAccess("subject-one", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := log.RecordAccess(ctx, someAccess("subject-two", 9)); err != nil {
		t.Fatal(err)
	}
	h, err := log.AccessHistory(ctx, "subject-one", 0)
	if err != nil || len(h) != 3 || h[0].Reason != "purpose=counter-service; case=NS-2" || h[0].Name != "李娜" {
		t.Fatalf("history: %+v %v", h, err)
	}
	// The citizen's view without names still checks against the leaf.
	v := h[0].ForCitizen(false)
	if v.Name != "" || v.Operator != "" || v.Badge != "440001" {
		t.Fatalf("citizen view: %+v", v)
	}
	d, _ := v.Digest("subject-one")
	leaf, _ := log.Leaf(ctx, h[0].LeafIndex)
	if !strings.Contains(string(leaf.Data), d) {
		t.Fatalf("leaf %s lacks the citizen's digest %s", leaf.Data, d)
	}
	if d2, _ := v.Digest("subject-two"); d2 == d {
		t.Fatal("the digest does not bind the citizen")
	}
	pub := publicBytes(t, db)
	for _, s := range []string{"李娜", "440001", "南沙", "counter-service", "case=NS", "li.na", "subject-one", "subject-two"} {
		if strings.Contains(pub, s) {
			t.Errorf("public log contains %q", s)
		}
	}
	if _, err := log.RecordAccess(ctx, audit.Access{Subject: "subject-one", At: time.Now()}); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("access without operator: %v", err)
	}
}

func publicBytes(t *testing.T, db *store.DB) string {
	rows, err := db.SQL().Query(`SELECT data FROM audit_leaves`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var d []byte
		rows.Scan(&d)
		b.Write(d)
	}
	return b.String()
}
