package main

import (
	"context"
	"strings"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/web"
)

// mountWeb serves the wallet (/wallet/), the verifier page (/verifier/)
// and the admin console (/admin/), whose calls are forwarded to the
// server's own admin API, the wallet's card-authenticated calls (history,
// suspension, revocation code), the lost-phone page's suspension, the
// authority's card endpoints and the verifier page's in-person check.
func mountWeb(ctx context.Context, a *app, srv *server.Server) error {
	signInClient, signInToken := a.signInLimits()
	web.Mount(srv, web.Options{AdminToken: a.cfg.AdminToken, API: srv.Handler(),
		SignInClient: signInClient, SignInToken: signInToken, Operators: a.db.Operators()})
	g, err := a.guard(ctx)
	if err != nil {
		return err
	}
	t, err := a.openTrust(ctx)
	if err != nil {
		return err
	}
	cards, err := proofing.NewCards(proofing.CardsConfig{Store: a.db.Proofing(), Records: a.registry,
		Status: t.status, Log: t.audit, Slog: a.log,
		Client:   a.rateLimiter("lost-client", proofing.LostClientEvery, proofing.LostClientBurst),
		IDNumber: a.rateLimiter("lost-id-number", proofing.LostIDNumberEvery, proofing.LostIDNumberBurst)})
	if err != nil {
		return err
	}
	admin.NewCardsAPI(cards, a.log).MountGate(srv, g)
	c := &web.Citizen{
		Verifier:          webCards{&sdjwt.Verifier{Anchors: credential.NewAnchors(t.ring.Root()), Status: localStatus{t.status}}},
		Subject:           a.subjectOf,
		History:           t.audit,
		Accesses:          citizenAccesses{log: t.audit, reg: store.NewRegistry(a.db)},
		ShowOperatorNames: a.cfg.ShowOperatorNames,
		Suspend:           t.status, // status.Ref is credential.StatusRef
		Cards:             cards,
		Audience:          strings.TrimSuffix(a.cfg.PublicURL, "/") + "/api/wallet",
		NonceMAC:          a.walletNonceMAC,
		Used:              a.db.SingleUse(),
		NonceLimit:        a.walletNonceLimit(),
		CardLimit:         a.rateLimiter("wallet-card-client", web.CardClientEvery, web.CardClientBurst),
		CheckLimit:        a.rateLimiter("verifier-check-client", web.CheckClientEvery, web.CheckClientBurst),
	}
	c.Mount(srv)
	(&web.Stats{Decisions: webDecisions{a.db.Proofing()}}).MountGate(srv, g)
	return nil
}

// webDecisions adapts the proofing store to web.Decisions.
type webDecisions struct{ p *store.Proofing }

func (w webDecisions) RecentDecisions(ctx context.Context, since time.Time, limit int) ([]web.Decision, error) {
	ds, err := w.p.RecentDecisions(ctx, since, limit)
	out := make([]web.Decision, len(ds))
	for i, d := range ds {
		out[i] = web.Decision{Outcome: d.Outcome, Latency: d.Latency}
	}
	return out, err
}

// webCards adapts the SD-JWT VC verifier to web.CardVerifier.
type webCards struct{ v *sdjwt.Verifier }

func (w webCards) VerifyCard(ctx context.Context, pres, nonce, aud string) (*credential.Verified, error) {
	return w.v.Verify(ctx, pres, sdjwt.Expect{Nonce: nonce, Audience: aud})
}
