package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/verifier"
)

func init() {
	commands["rp"] = command{"register, list, show, update and remove relying parties (OpenID Connect clients)", runRP}
}

const rpUsage = `usage: shenfen rp COMMAND [flags]

  add     register a relying party and print its client_id (and secret, shown once)
  list    list relying parties
  show    show one relying party as JSON
  update  change a relying party: shenfen rp update CLIENT_ID [--name-zh N --name-en N]
          [--purpose-zh P --purpose-en P] [--redirect URI]...
          [--logout-redirect URI]... [--claims LIST] [--jwks FILE] [--rotate-secret]
          (a list flag given replaces the whole list; losing an entitlement revokes the RP's tokens)
  remove  remove a relying party and revoke its tokens

Claims an RP may be entitled to: ` + "name, family_name, given_name, birthdate, age_over_18, id_number, picture, address" + `
(a trailing ? marks a claim the citizen may decline), e.g. --claims name,id_number,picture?`

func runRP(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, rpUsage)
		return errors.New("rp: a subcommand is required")
	}
	switch args[0] {
	case "add":
		return rpAdd(ctx, args[1:])
	case "list":
		return rpList(ctx, args[1:])
	case "show":
		return rpShow(ctx, args[1:])
	case "update":
		return rpUpdate(ctx, args[1:])
	case "remove":
		return rpRemove(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(os.Stderr, rpUsage)
		return nil
	}
	fmt.Fprintln(os.Stderr, rpUsage)
	return fmt.Errorf("rp: unknown subcommand %q", args[0])
}

// listFlag collects a repeatable (or comma-separated) flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func rpAdd(ctx context.Context, args []string) error {
	var spec oidc.ClientSpec
	var redirects, logouts listFlag
	var jwksFile string
	cfg, rest, err := config.Load("rp add", args, os.Getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&spec.ID, "id", "", "client_id (default: random)")
		fs.StringVar(&spec.Name.Zh, "name-zh", "", "name shown to citizens, in Chinese (required)")
		fs.StringVar(&spec.Name.En, "name-en", "", "name shown to citizens, in English (required)")
		fs.StringVar(&spec.Purpose.Zh, "purpose-zh", "", "what the site signs citizens in for, in Chinese (optional; with -purpose-en)")
		fs.StringVar(&spec.Purpose.En, "purpose-en", "", "what the site signs citizens in for, in English (optional; with -purpose-zh)")
		fs.Var(&redirects, "redirect", "redirect URI (repeatable; exact match)")
		fs.Var(&logouts, "logout-redirect", "post-logout redirect URI (repeatable)")
		fs.StringVar(&spec.Claims, "claims", "", "entitled claims, e.g. name,id_number,picture?")
		fs.StringVar(&spec.Sector, "sector", "", "pairwise sector identifier (default: host of the first redirect URI)")
		fs.StringVar(&jwksFile, "jwks", "", "JWKS file of the RP's public keys: selects private_key_jwt (default client_secret_basic)")
		fs.StringVar(&spec.IDTokenAlg, "id-token-alg", "", "id_token_signed_response_alg: ES256 (default) or RS256")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("rp add: unexpected arguments %q", rest)
	}
	spec.RedirectURIs, spec.PostLogoutRedirectURIs = redirects, logouts
	if jwksFile != "" {
		b, err := os.ReadFile(jwksFile)
		if err != nil {
			return fmt.Errorf("rp add: %w", err)
		}
		spec.AuthMethod, spec.JWKS = oidc.AuthPrivateKeyJWT, b
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	c, secret, err := oidc.Register(ctx, a.db.OIDC(), spec, time.Now())
	if err != nil {
		return fmt.Errorf("rp add: %w", err)
	}
	fmt.Printf("client_id:     %s\n", c.ID)
	if secret != "" {
		fmt.Printf("client_secret: %s\n(shown once: store it now)\n", secret)
	}
	fmt.Printf("issuer:        %s/oidc\n", strings.TrimSuffix(cfg.PublicURL, "/"))
	return nil
}

func rpList(ctx context.Context, args []string) error {
	cfg, _, err := config.Load("rp list", args, os.Getenv, nil)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	cs, err := a.db.OIDC().Clients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tNAME\tAUTH\tCLAIMS\tREDIRECT_URIS")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name.String(), c.AuthMethod, oidc.FormatEntitlements(c.Entitlements), strings.Join(c.RedirectURIs, " "))
	}
	return tw.Flush()
}

func rpOne(ctx context.Context, name string, args []string, fn func(*app, string) error) error {
	cfg, rest, err := config.Load(name, args, os.Getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%s: exactly one client_id is required", name)
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, rest[0])
}

func rpShow(ctx context.Context, args []string) error {
	return rpOne(ctx, "rp show", args, func(a *app, id string) error {
		c, err := a.db.OIDC().Client(ctx, id)
		if err != nil {
			return fmt.Errorf("rp show %s: %w", id, err)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(admin.NewRPDoc(c, ""))
	})
}

func rpRemove(ctx context.Context, args []string) error {
	return rpOne(ctx, "rp remove", args, func(a *app, id string) error {
		if err := a.db.OIDC().DeleteClient(ctx, id); err != nil {
			return fmt.Errorf("rp remove %s: %w", id, err)
		}
		fmt.Printf("removed %s\n", id)
		return nil
	})
}

// rpUpdate changes a registered RP; only the flags given change anything.
// The client_id may come first or last.
func rpUpdate(ctx context.Context, args []string) error {
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	var (
		fs                 *flag.FlagSet
		name, purpose      verifier.Text
		claims, jwksFile   string
		redirects, logouts listFlag
		rotate             bool
	)
	cfg, rest, err := config.Load("rp update", args, os.Getenv, func(f *flag.FlagSet) {
		fs = f
		f.StringVar(&name.Zh, "name-zh", "", "new name in Chinese (with -name-en)")
		f.StringVar(&name.En, "name-en", "", "new name in English (with -name-zh)")
		f.StringVar(&purpose.Zh, "purpose-zh", "", "new purpose in Chinese (with -purpose-en; both empty removes it)")
		f.StringVar(&purpose.En, "purpose-en", "", "new purpose in English (with -purpose-zh)")
		f.Var(&redirects, "redirect", "redirect URI (repeatable; replaces the list)")
		f.Var(&logouts, "logout-redirect", "post-logout redirect URI (repeatable; replaces the list)")
		f.StringVar(&claims, "claims", "", "new entitlements, e.g. name,id_number,picture?")
		f.StringVar(&jwksFile, "jwks", "", "JWKS file replacing a private_key_jwt client's keys")
		f.BoolVar(&rotate, "rotate-secret", false, "give a client_secret_basic client a new secret (printed once)")
	})
	if err != nil {
		return err
	}
	if id == "" && len(rest) == 1 {
		id, rest = rest[0], nil
	}
	if id == "" || len(rest) > 0 {
		return errors.New("rp update: exactly one client_id is required")
	}
	var u oidc.ClientUpdate
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name-zh", "name-en":
			u.Name = &name
		case "purpose-zh", "purpose-en":
			u.Purpose = &purpose
		case "redirect":
			r := []string(redirects)
			u.RedirectURIs = &r
		case "logout-redirect":
			l := []string(logouts)
			u.PostLogoutRedirectURIs = &l
		case "claims":
			u.Claims = &claims
		}
	})
	u.RotateSecret = rotate
	if jwksFile != "" {
		if u.JWKS, err = os.ReadFile(jwksFile); err != nil {
			return fmt.Errorf("rp update: %w", err)
		}
	}
	if u.Name == nil && u.Purpose == nil && u.RedirectURIs == nil && u.PostLogoutRedirectURIs == nil && u.Claims == nil && len(u.JWKS) == 0 && !u.RotateSecret {
		return errors.New("rp update: nothing to change (see shenfen rp help)")
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	c, secret, err := oidc.Update(ctx, a.db.OIDC(), id, u)
	if err != nil {
		return fmt.Errorf("rp update %s: %w", id, err)
	}
	fmt.Printf("updated %s: %s, claims %s, redirects %s\n", c.ID, c.Name.String(), oidc.FormatEntitlements(c.Entitlements), strings.Join(c.RedirectURIs, " "))
	if secret != "" {
		fmt.Printf("client_secret: %s\n(shown once: store it now; the old secret no longer works)\n", secret)
	}
	return nil
}
