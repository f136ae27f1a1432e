package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/config"
)

func init() {
	commands["keys"] = command{"issuer keys: list, rotate, export-trust; init-master", runKeys}
}

const keysUsage = `usage: shenfen keys SUBCOMMAND [flags]

  list           show the root CA and the published document signers
  rotate         make a new document signer; older ones stay published
                 (and keep verifying the cards they signed) until they expire
  export-trust   write the trust list for offline verifiers:
                 -format pem (root, then signers; default) or json, -o FILE
  init-master    make the master key (at --master-key-file, default
                 DATA/master.key) for a new installation; refused when the
                 file exists or the database or DATA already hold sealed data

Keys are made on first use in DATA/keys, sealed with the master key, or in a
PKCS#11 token when SHENFEN_PKCS11_TOKEN (and SHENFEN_PKCS11_PIN,
SHENFEN_PKCS11_LIB) are set. Common flags (--data, --db, ...) as for serve.
`

func runKeys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(os.Stderr, keysUsage)
		if len(args) == 0 {
			return fmt.Errorf("missing subcommand")
		}
		return nil
	}
	sub := args[0]
	if sub != "list" && sub != "rotate" && sub != "export-trust" && sub != "init-master" {
		return fmt.Errorf("unknown subcommand %q (list, rotate, export-trust, init-master)", sub)
	}
	var format, out string
	cfg, _, err := config.Load("keys "+sub, args[1:], os.Getenv, func(fs *flag.FlagSet) {
		if sub == "export-trust" {
			fs.StringVar(&format, "format", "pem", "pem or json")
			fs.StringVar(&out, "o", "", "output file (default standard output)")
		}
	})
	if err != nil {
		return err
	}
	if sub == "init-master" {
		a, err := openDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		return initMasterKey(ctx, a)
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := a.openTrust(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	switch sub {
	case "list":
		root := t.ring.Root()
		fmt.Printf("root     %s  valid until %s\n", root.Subject, root.NotAfter.UTC().Format(time.DateOnly))
		for i, s := range t.ring.Signers(now) {
			mark := "        "
			if i == 0 {
				mark = "current "
			}
			fmt.Printf("%s kid %s  %s  made %s  valid until %s\n", mark, s.KeyID, s.Label,
				s.Created.UTC().Format(time.DateOnly), s.Cert.NotAfter.UTC().Format(time.DateOnly))
		}
		return nil
	case "rotate":
		// One rotation at a time across every server and tool of the database.
		unlock, err := a.db.Lock(ctx, "issuer-keys")
		if err != nil {
			return err
		}
		defer unlock()
		s, err := t.ring.Rotate(ctx)
		if err != nil {
			return err
		}
		// The rotation is public: auditors see every signing key the
		// authority ever used.
		if _, err := t.audit.Append(ctx, audit.Event{Type: audit.EventKeyRotation, At: now, Ref: s.KeyID,
			Attrs: map[string]string{"not_after": s.Cert.NotAfter.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		fmt.Printf("new document signer kid %s (%s); a running server picks it up at its next signature\n", s.KeyID, s.Label)
		return nil
	case "export-trust":
		var b []byte
		switch format {
		case "pem":
			b = t.ring.TrustPEM(now)
		case "json":
			if b, err = json.MarshalIndent(t.ring.TrustList(now), "", "  "); err != nil {
				return err
			}
			b = append(b, '\n')
		default:
			return fmt.Errorf("-format %q: want pem or json", format)
		}
		if out == "" {
			_, err = os.Stdout.Write(b)
			return err
		}
		return os.WriteFile(out, b, 0o644)
	}
	return nil
}
