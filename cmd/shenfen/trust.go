package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/keys/pkcs11"
	"github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/trustapi"
)

// trustServices are the issuer keys, the status lists and the audit log,
// shared by every part that issues, revokes or discloses.
type trustServices struct {
	// ring holds the IACA root and the document signers (Chain gives the
	// current signer and its certificates for issuance).
	ring *keys.Ring
	// status allocates status-list entries for new cards and changes them.
	status *status.Service
	// audit is the transparency log and the disclosure history.
	audit *audit.Log
	// api is the HTTP face (metadata, keys, trust list, lists, auditor).
	api *trustapi.API
	// hsm is the PKCS#11 provider when one is configured.
	hsm *pkcs11.Provider
	// replica is the database replica of --db-replica, if any.
	replica *store.DB
}

// openTrust opens the issuer keys (making them on first start), the status
// service and the audit log; later calls return what the first opened.
//
// Keys live in DATA/keys, sealed with the master key, unless
// SHENFEN_PKCS11_TOKEN names a PKCS#11 token (library from
// SHENFEN_PKCS11_LIB or the SoftHSM default, PIN from SHENFEN_PKCS11_PIN);
// then the private keys stay in the token and DATA/keys-pkcs11 holds the
// certificates.
func (a *app) openTrust(ctx context.Context) (*trustServices, error) {
	if a.trust != nil {
		return a.trust, nil
	}
	t := &trustServices{}
	var prov keys.Provider
	dir := filepath.Join(a.cfg.DataDir, "keys")
	if tok := os.Getenv("SHENFEN_PKCS11_TOKEN"); tok != "" {
		lib, err := pkcs11.FindLibrary()
		if err != nil {
			return nil, err
		}
		p, err := pkcs11.Open(lib, tok, os.Getenv("SHENFEN_PKCS11_PIN"))
		if err != nil {
			return nil, err
		}
		prov, t.hsm, dir = p, p, filepath.Join(a.cfg.DataDir, "keys-pkcs11")
	} else {
		if a.sealer == nil {
			return nil, errors.New("trust: master key not loaded")
		}
		prov = keys.NewFileProvider(dir, a.sealer)
	}
	issuer := strings.TrimSuffix(a.cfg.PublicURL, "/")
	// Servers sharing the database make, rotate and log the keys one at a
	// time: two starting at once must not both make a root or both rotate.
	unlock, err := a.db.Lock(ctx, "issuer-keys")
	if err != nil {
		if t.hsm != nil {
			t.hsm.Close()
		}
		return nil, fmt.Errorf("issuer keys: %w", err)
	}
	defer unlock()
	ring, err := keys.Open(ctx, dir, prov, keys.Config{Issuer: issuer})
	if err == nil {
		err = pinRoot(ctx, a.db, ring)
	}
	if err != nil {
		if t.hsm != nil {
			t.hsm.Close()
		}
		if errors.Is(err, keys.ErrSealed) {
			return nil, fmt.Errorf("issuer keys in %s: %w: the master key file %s is not the one they were sealed with", dir, err, a.cfg.MasterKeyFile)
		}
		return nil, fmt.Errorf("issuer keys: %w", err)
	}
	t.ring = ring
	// A card must not outlive its signer's certificate: rotate at start
	// when the current one has under 400 days left (cards are issued for at
	// most a year before renewal; certificates last three).
	if s, rotated, err := ring.RotateIfDue(ctx, 400*24*time.Hour); err != nil {
		return nil, fmt.Errorf("issuer keys: %w", err)
	} else if rotated {
		a.log.Info("rotated the document signer: the previous one nears expiry", "kid", s.KeyID)
	}
	t.status = status.NewService(a.db.Status(), ring, issuer+"/status")
	if u := a.cfg.DatabaseReplica; u != "" {
		rdb, err := store.OpenReplica(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		t.replica = rdb
		t.status.Replica = rdb.Status()
	}
	t.audit = audit.New(a.db.Audit(), ring, a.sealer)
	// Every status change, whoever makes it (admin, re-enrollment), is
	// logged for auditors.
	t.status.Changed = trustapi.LogStatusChanges(t.audit, time.Now)
	if ring.Made() {
		// New keys are public events: auditors see every key the
		// authority ever signed with.
		s, err := ring.Current(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := t.audit.Append(ctx, audit.Event{Type: audit.EventKeyRotation, At: s.Created, Ref: s.KeyID,
			Attrs: map[string]string{"not_after": s.Cert.NotAfter.UTC().Format(time.RFC3339), "first": "true"}}); err != nil {
			return nil, err
		}
	}
	t.api = &trustapi.API{Issuer: issuer, Ring: ring, Status: t.status, Audit: t.audit, Log: a.log}
	if a.sealer != nil {
		// Checkpoints (C2SP tlog-checkpoint) are signed by an Ed25519 note
		// key sealed in DATA/keys-log (a file even with PKCS#11: the token
		// provider makes P-256 keys only).
		k, err := keys.NewFileProvider(filepath.Join(a.cfg.DataDir, "keys-log"), a.sealer).OpenOrGenerate(ctx, "log-note", keys.KindEd25519)
		if err != nil {
			return nil, fmt.Errorf("log checkpoint key: %w", err)
		}
		// Every server signs with the same note key (a witness or a wallet
		// that saw one key refuses another): pinned like the root.
		pub, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(pub)
		got, err := a.db.Pin(ctx, "log-note-key-sha256", sum[:], time.Now())
		if err != nil {
			return nil, fmt.Errorf("log checkpoint key: %w", err)
		}
		if !bytes.Equal(got, sum[:]) {
			return nil, fmt.Errorf("log checkpoint key: %w: give every server the same DATA/keys-log", errOtherLogKey)
		}
		signer, vkey, err := audit.NoteKey(trustapi.Origin(issuer), k)
		if err != nil {
			return nil, err
		}
		t.audit.SetCheckpointKey(signer)
		t.api.CheckpointKey = vkey
	}
	a.trust = t
	return t, nil
}

// errOtherLogKey: the data directory's checkpoint note key is not the one
// the database's first server recorded.
var errOtherLogKey = errors.New("the data directory's transparency-log note key is not the one the other servers of this database sign checkpoints with")

// errOtherRoot: the key directory's root is not the one the database's
// first server recorded.
var errOtherRoot = errors.New("the key directory's root certificate is not the one this database's cards are issued under")

// pinRoot records the ring's root certificate digest in the database on
// first start and afterwards refuses a ring with another root: a server
// started with an empty or wrong key directory (a copy missed, a failover
// to a machine without the keys) would otherwise make a new root and issue
// cards that the trust list the others publish does not cover.
func pinRoot(ctx context.Context, db *store.DB, ring *keys.Ring) error {
	sum := sha256.Sum256(ring.Root().Raw)
	got, err := db.Pin(ctx, "issuer-root-sha256", sum[:], time.Now())
	if err != nil {
		return err
	}
	if !bytes.Equal(got, sum[:]) {
		return fmt.Errorf("%w (recorded %x, found %x): give every server the same key directory or token", errOtherRoot, got, sum)
	}
	return nil
}

// close releases the PKCS#11 session, if any.
func (t *trustServices) close() {
	if t != nil && t.hsm != nil {
		t.hsm.Close()
	}
	if t != nil && t.replica != nil {
		t.replica.Close()
	}
}

// mountTrust publishes the issuer metadata, keys, trust list, status lists
// and the auditor endpoints, and the admin status operation behind the
// admin token.
func mountTrust(ctx context.Context, a *app, srv *server.Server) error {
	t, err := a.openTrust(ctx)
	if err != nil {
		return err
	}
	t.api.Mount(srv)
	g, err := a.guard(ctx)
	if err != nil {
		return err
	}
	srv.Handle("POST /admin/status", g.Wrap("POST /admin/status", server.RequireJSON(t.api.AdminStatus())))
	return nil
}
