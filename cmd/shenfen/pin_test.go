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
	if err := os.CopyFS(filepath.Join(second, "keys"), os.DirFS(filepath.Join(first, "keys"))); err != nil {
		t.Fatal(err)
	}
	if err := open(second); !errors.Is(err, errOtherOIDCKeys) {
		t.Fatalf("server with other OIDC keys: %v, want errOtherOIDCKeys", err)
	}
	if err := open(first); err != nil {
		t.Fatalf("the first data directory again: %v", err)
	}
}
