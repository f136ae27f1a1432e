package main

import (
	"context"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

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
	return serve(ctx, a, srv, nil)
}

// serve runs the listeners and the background loops in one group: the
// first to fail stops the others, and serve returns once every listener
// has finished its requests in flight and every loop has returned, so the
// database closes under no one. ready, if not nil, gets the public and
// admin addresses (admin nil without a separate listener).
func serve(ctx context.Context, a *app, srv *server.Server, ready func(public, admin net.Addr)) error {
	pub, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return err
	}
	var adm net.Listener
	if a.cfg.AdminAddr != "" {
		if adm, err = net.Listen("tcp", a.cfg.AdminAddr); err != nil {
			pub.Close()
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if adm == nil {
		g.Go(func() error { return srv.Serve(gctx, pub, srv.Handler()) })
	} else {
		g.Go(func() error { return srv.Serve(gctx, pub, srv.PublicHandler()) })
		g.Go(func() error { return srv.Serve(gctx, adm, srv.Handler()) })
	}
	for _, l := range a.loops {
		g.Go(func() error { return a.runLoop(gctx, l) })
	}
	attrs := []any{"addr", pub.Addr().String(), "url", a.cfg.PublicURL, "data", a.cfg.DataDir,
		"database", a.db.Dialect().String(), "version", version, "background", len(a.loops)}
	var admAddr net.Addr
	if adm != nil {
		admAddr = adm.Addr()
		attrs = append(attrs, "admin_addr", admAddr.String())
	}
	a.log.Info("shenfen listening", attrs...)
	if ready != nil {
		ready(pub.Addr(), admAddr)
	}
	return g.Wait()
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
	g, err := a.guard(ctx)
	if err != nil {
		return err
	}
	g.Mount(srv)
	admin.NewRegistryAPI(a.registry, a.log).MountGate(srv, g)
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
	// Body limits, trusted proxies, storage upkeep.
	if err := applyEdge(a, srv); err != nil {
		return err
	}
	a.maintenance()
	return nil
}
