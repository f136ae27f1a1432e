package main

import (
	"context"
	"net"
	"os"
	"path/filepath"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/server"
)

func init() {
	commands["serve"] = command{"run the HTTP server", runServe}
}

func runServe(ctx context.Context, args []string) error {
	cfg, _, err := config.Load("serve", args, os.Getenv, nil)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.AdminToken == "" {
		tok, err := secretFile(filepath.Join(cfg.DataDir, "admin-token"), 24)
		if err != nil {
			return err
		}
		a.cfg.AdminToken = tok
	}
	srv := server.New(a.log, a.db)
	if err := mount(ctx, a, srv); err != nil {
		return err
	}
	return srv.ListenAndServe(ctx, cfg.Addr, func(addr net.Addr) {
		a.log.Info("shenfen listening", "addr", addr.String(), "url", cfg.PublicURL, "data", cfg.DataDir,
			"database", a.db.Dialect().String(), "version", version)
	})
}

// mount attaches every domain's endpoints to the server.
func mount(ctx context.Context, a *app, srv *server.Server) error {
	// Trust: issuer keys, status lists, audit log (first: others use a.trust).
	if err := mountTrust(ctx, a, srv); err != nil {
		return err
	}
	// Registry: metrics, the demo registry (--demo), the admin API.
	if err := a.registryMetrics.register(srv.Metrics()); err != nil {
		return err
	}
	if a.cfg.Demo {
		if err := loadDemo(ctx, a); err != nil {
			return err
		}
	}
	admin.NewRegistryAPI(a.registry, a.log).Mount(srv, a.cfg.AdminToken)
	// OpenID Provider for relying parties, and the RP admin API.
	if err := mountOIDC(ctx, a, srv); err != nil {
		return err
	}
	// Enrollment, OpenID4VCI issuer, OpenID4VP verifier (oid4vc/).
	if err := mountEnrollment(ctx, a, srv); err != nil {
		return err
	}
	// Wallet, verifier page and admin console (web/).
	if err := mountWeb(ctx, a, srv); err != nil {
		return err
	}
	return nil
}
