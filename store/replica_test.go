package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"testing"

	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

type replicaKey struct{ k jws.Key }

func (r replicaKey) SigningKey(context.Context) (jws.Key, error) { return r.k, nil }

// TestStatusReplica: status list tokens are built from the replica store
// when one is set (here a second pool on the same database: what is
// tested is the read path, not replication), and from the primary when
// the replica does not answer.
func TestStatusReplica(t *testing.T) {
	if os.Getenv("SHENFEN_TEST_POSTGRES") == "off" {
		t.Skip("PostgreSQL off")
	}
	ctx := context.Background()
	u := storetest.NewPostgresDatabase(t)
	db, err := store.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := store.OpenReplica(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	svc := status.NewService(db.Status(), replicaKey{jws.Key{Signer: k, KeyID: "k1"}}, "https://id.example/status")
	svc.ShardSize = 16
	svc.Replica = rep.Status()
	ref, err := svc.Allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Revoke(ctx, ref); err != nil {
		t.Fatal(err)
	}
	id, err := svc.ListID(ref.URI)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, want status.Status) {
		t.Helper()
		served, err := svc.Token(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		tok, err := status.ParseUnverified([]byte(served.Token), status.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tok.List.Get(ref.Index); err != nil || got != want {
			t.Fatalf("%s: entry %d = %v %v, want %v", when, ref.Index, got, err, want)
		}
	}
	check("through the replica", status.Invalid)
	// The replica gone: the next change is served from the primary.
	rep.Close()
	if _, err := svc.Set(ctx, ref, status.Valid); err == nil {
		t.Fatal("a revoked card made valid again")
	}
	ref2, err := svc.Allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Suspend(ctx, ref2); err != nil {
		t.Fatal(err)
	}
	served, err := svc.Token(ctx, id)
	if err != nil {
		t.Fatalf("replica closed: %v", err)
	}
	tok, err := status.ParseUnverified([]byte(served.Token), status.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.List.Get(ref2.Index); got != status.Suspended {
		t.Fatalf("after the replica closed: entry %d = %v, want suspended", ref2.Index, got)
	}
}
