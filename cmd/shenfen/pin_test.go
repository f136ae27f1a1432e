package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/shenfen/shenfen/config"
)

// TestRootPinned: a second server on the same database whose key directory
// is empty (a failover to a machine the keys were not copied to) must not
// make a new root and issue under it; it stops. The first server's
// directory still opens.
func TestRootPinned(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "shared.db")
	first := t.TempDir()
	open := func(data string, extra ...string) (*app, error) {
		args := append([]string{"--data", data, "--db", db, "--public-url", "http://id.example", "--admin-token", "test-admin-token-0123"}, extra...)
		cfg, _, err := config.Load("serve", args, func(string) string { return "" }, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		_, err = a.openTrust(ctx)
		return a, err
	}
	a, err := open(first)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := open(t.TempDir(), "--master-key-file", filepath.Join(first, "master.key"))
	b.Close()
	if !errors.Is(err, errOtherRoot) {
		t.Fatalf("server with an empty key directory: %v, want errOtherRoot", err)
	}
	c, err := open(first)
	c.Close()
	if err != nil {
		t.Fatalf("the first key directory again: %v", err)
	}
}

// TestOIDCKeysPinned: a server given the issuer keys but another OpenID
// Provider secret and ID-token key (a data directory copied in part) stops,
// instead of signing ID tokens that the other servers' JWKS do not list
// and refusing their codes.
func TestOIDCKeysPinned(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "shared.db")
	open := func(data string) error {
		args := []string{"--data", data, "--db", db, "--public-url", "http://id.example", "--admin-token", "test-admin-token-0123",
			"--master-key-file", filepath.Join(data, "..", "master.key")}
		cfg, _, err := config.Load("serve", args, func(string) string { return "" }, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		_, err = openOIDC(ctx, a)
		return err
	}
	root := t.TempDir()
	if err := runKeys(ctx, []string{"init-master", "--data", filepath.Join(root, "a"), "--master-key-file", filepath.Join(root, "master.key")}); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(root, "a")
	if err := open(first); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(root, "b")
	for _, d := range []string{"keys", "keys-log"} { // the issuer keys and the log's note key, not the OIDC ones
		if err := os.CopyFS(filepath.Join(second, d), os.DirFS(filepath.Join(first, d))); err != nil {
			t.Fatal(err)
		}
	}
	if err := open(second); !errors.Is(err, errOtherOIDCKeys) {
		t.Fatalf("server with other OIDC keys: %v, want errOtherOIDCKeys", err)
	}
	if err := open(first); err != nil {
		t.Fatalf("the first data directory again: %v", err)
	}
}

// TestLogNoteKeyPinned: a server given the issuer keys but another
// checkpoint note key (DATA/keys-log not copied) stops, instead of signing
// checkpoints that witnesses and wallets holding the log's key refuse.
func TestLogNoteKeyPinned(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "shared.db")
	root := t.TempDir()
	open := func(data string) error {
		args := []string{"--data", data, "--db", db, "--public-url", "http://id.example", "--admin-token", "test-admin-token-0123",
			"--master-key-file", filepath.Join(root, "master.key")}
		cfg, _, err := config.Load("serve", args, func(string) string { return "" }, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		_, err = a.openTrust(ctx)
		return err
	}
	first, second := filepath.Join(root, "a"), filepath.Join(root, "b")
	if err := runKeys(ctx, []string{"init-master", "--data", first, "--master-key-file", filepath.Join(root, "master.key")}); err != nil {
		t.Fatal(err)
	}
	if err := open(first); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(second, "keys"), os.DirFS(filepath.Join(first, "keys"))); err != nil {
		t.Fatal(err)
	}
	if err := open(second); !errors.Is(err, errOtherLogKey) {
		t.Fatalf("server with another note key: %v, want errOtherLogKey", err)
	}
	// Given the log's note key too, the second server starts.
	if err := os.RemoveAll(filepath.Join(second, "keys-log")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(second, "keys-log"), os.DirFS(filepath.Join(first, "keys-log"))); err != nil {
		t.Fatal(err)
	}
	if err := open(second); err != nil {
		t.Fatalf("the second server with the log's note key: %v", err)
	}
}
