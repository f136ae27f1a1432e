package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/store"
)

func init() {
	// The operator endpoints' body limits (docs/api.md §7.4).
	bodyLimits["POST /admin/api/operators"] = 4 << 10
	bodyLimits["POST /admin/api/approvals/{approval}/approve"] = 1 << 10
	bodyLimits["POST /admin/api/approvals/{approval}/reject"] = 1 << 10
	commands["operator"] = command{"named operators of the console: add, list, roles, disable, enable, reset; check the access records", runOperator}
}

const operatorUsage = `usage: shenfen operator SUBCOMMAND [flags]

  add --id ID --name NAME --office OFFICE [--badge NO] --roles R1,R2
                         add an operator; prints the sign-in secret once
  list                   list operators
  roles ID R1,R2         set an operator's roles
  disable ID | enable ID stop or restore an operator's sign-in (sessions end at once)
  reset ID               issue a new sign-in secret (prints it once)
  check                  recompute every access record's keyed digest and compare
                         it with the transparency log (exit status 1 on a mismatch)

roles: registry-reader, registry-clerk, card-officer, auditor, administrator
`

func runOperator(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, operatorUsage)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "add":
		return operatorAdd(ctx, args[1:])
	case "list":
		return withApp(ctx, "operator list", args[1:], 0, func(a *app, _ []string) error { return operatorList(ctx, a) })
	case "roles":
		return withApp(ctx, "operator roles", args[1:], 2, func(a *app, p []string) error {
			return operatorSet(ctx, a, p[0], func(op *operator.Operator) error {
				roles, err := operator.ParseRoles(p[1])
				op.Roles = roles
				return err
			})
		})
	case "disable", "enable":
		return withApp(ctx, "operator "+args[0], args[1:], 1, func(a *app, p []string) error {
			return operatorSet(ctx, a, p[0], func(op *operator.Operator) error { op.Disabled = args[0] == "disable"; return nil })
		})
	case "reset":
		return withApp(ctx, "operator reset", args[1:], 1, func(a *app, p []string) error {
			secret := operator.NewSecret()
			err := operatorSet(ctx, a, p[0], func(op *operator.Operator) error {
				h, err := operator.HashSecret(secret)
				op.SecretHash = h
				return err
			})
			if err == nil {
				fmt.Printf("secret: %s\n(shown once: hand it to the operator)\n", secret)
			}
			return err
		})
	case "check":
		return withApp(ctx, "operator check", args[1:], 0, func(a *app, _ []string) error { return operatorCheck(ctx, a) })
	}
	fmt.Fprint(os.Stderr, operatorUsage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// withApp loads the configuration, checks the number of positional
// arguments and runs fn with an open app.
func withApp(ctx context.Context, name string, args []string, n int, fn func(*app, []string) error) error {
	cfg, rest, err := config.Load(name, args, os.Getenv, nil)
	if err != nil {
		return err
	}
	if len(rest) != n {
		return fmt.Errorf("%s: want %d arguments, got %d", name, n, len(rest))
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, rest)
}

func operatorAdd(ctx context.Context, args []string) error {
	var op operator.Operator
	var roles string
	cfg, rest, err := config.Load("operator add", args, os.Getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&op.ID, "id", "", "sign-in name (3-64 of a-z 0-9 . _ -)")
		fs.StringVar(&op.Name, "name", "", "the operator's full name")
		fs.StringVar(&op.Badge, "badge", "", "badge number (shown to citizens)")
		fs.StringVar(&op.Office, "office", "", "office (shown to citizens)")
		fs.StringVar(&roles, "roles", "", "comma-separated roles")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("operator add: unexpected arguments %q", rest)
	}
	if op.Roles, err = operator.ParseRoles(roles); err != nil {
		return fmt.Errorf("operator add: %w", err)
	}
	secret := operator.NewSecret()
	if op.SecretHash, err = operator.HashSecret(secret); err != nil {
		return err
	}
	op.CreatedAt = time.Now()
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.db.Operators().AddOperator(ctx, op); err != nil {
		return fmt.Errorf("operator add: %w", err)
	}
	fmt.Printf("operator: %s\nsecret:   %s\n(shown once: hand it to the operator)\n", op.ID, secret)
	return nil
}

func operatorList(ctx context.Context, a *app) error {
	ops, err := a.db.Operators().ListOperators(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tBADGE\tOFFICE\tROLES\tSTATE")
	for _, o := range ops {
		state := "active"
		if o.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Name, o.Badge, o.Office, operator.FormatRoles(o.Roles), state)
	}
	return tw.Flush()
}

func operatorSet(ctx context.Context, a *app, id string, change func(*operator.Operator) error) error {
	st := a.db.Operators()
	op, err := st.Operator(ctx, id)
	if err != nil {
		return fmt.Errorf("operator %s: %w", id, err)
	}
	old := op.SecretHash
	if err := change(&op); err != nil {
		return err
	}
	hash := ""
	if op.SecretHash != old {
		hash = op.SecretHash
	}
	return st.SetOperator(ctx, id, op.Roles, hash, op.Disabled)
}

func operatorCheck(ctx context.Context, a *app) error {
	t, err := a.openTrust(ctx)
	if err != nil {
		return err
	}
	c, err := t.audit.CheckAccesses(ctx)
	fmt.Printf("access leaves: %d, records: %d, altered: %v, missing: %v, unlogged: %v\n",
		c.Leaves, c.Records, c.Altered, c.Missing, c.Unlogged)
	return err
}

// guard builds the admin API's access control: the operators in the
// database, the admin token as the machine principal "admin-token" scoped
// to cfg.AdminTokenRoles, the four-eyes policy, and the access records in
// the audit log.
func (a *app) guard(ctx context.Context) (*admin.Guard, error) {
	if a.adminGuard != nil {
		return a.adminGuard, nil
	}
	t, err := a.openTrust(ctx)
	if err != nil {
		return nil, err
	}
	policy := operator.DefaultPolicy()
	if strings.TrimSpace(a.cfg.FourEyesAlone) != "" {
		if policy.Alone, err = operator.ParseRoles(a.cfg.FourEyesAlone); err != nil {
			return nil, fmt.Errorf("four-eyes-alone: %w", err)
		}
	}
	var tokens []admin.MachineToken
	if a.cfg.AdminToken != "" && strings.TrimSpace(a.cfg.AdminTokenRoles) != "" {
		roles, err := operator.ParseRoles(a.cfg.AdminTokenRoles)
		if err != nil {
			return nil, fmt.Errorf("admin-token-roles: %w", err)
		}
		tokens = append(tokens, admin.MachineToken{Name: "admin-token", Token: a.cfg.AdminToken, Roles: roles})
	}
	ops := a.db.Operators()
	proof := a.db.Proofing()
	a.adminGuard = &admin.Guard{
		Policy: policy, Tokens: tokens, Operators: ops, Approvals: ops, Log: t.audit, Sealer: a.sealer, Slog: a.log,
		Subject: a.subjectOf,
		CardSubject: func(ctx context.Context, id string) (string, error) {
			c, err := proof.Card(ctx, id)
			return c.Subject, err
		},
		StatusSubject: func(ctx context.Context, uri string, idx int) (string, error) {
			c, err := proof.CardByStatus(ctx, uri, idx)
			return c.Subject, err
		},
	}
	return a.adminGuard, nil
}

// subjectOf is the history key of an ID number (base64url of its blind
// index), the key of both disclosures and operator accesses.
func (a *app) subjectOf(id string) (string, error) {
	n, err := registry.ParseIDNumber(id, time.Now())
	if err != nil {
		return "", err
	}
	return subjectKey(a.registry.Index(n)), nil
}

// subjectKey is the history key of a blind index.
func subjectKey(index []byte) string { return base64.RawURLEncoding.EncodeToString(index) }

// recordBatch records a bulk operation on the registry once (a resumed
// import records nothing new): the command line's user as a machine
// principal, the reason, the batch id the written records carry.
func (a *app) recordBatch(ctx context.Context, id, action string, why operator.Reason) error {
	t, err := a.openTrust(ctx)
	if err != nil {
		return err
	}
	who := cliUser()
	if why == (operator.Reason{}) {
		why = operator.Reason{Purpose: "registry-load"}
	}
	_, err = t.audit.RecordBatch(ctx, audit.Access{At: time.Now(), Operator: "machine:cli", Kind: string(operator.Machine),
		Name: who, Office: "command line", Action: action, Reason: why.String(), Batch: id})
	if err != nil {
		return fmt.Errorf("record the %s batch: %w", action, err)
	}
	return nil
}

// citizenAccesses is a citizen's whole access history: the operators'
// accesses, and the bulk imports that created or last changed the record.
type citizenAccesses struct {
	log *audit.Log
	reg *store.Registry
}

func (c citizenAccesses) AccessHistory(ctx context.Context, subject string, limit int) ([]audit.RecordedAccess, error) {
	out, err := c.log.AccessHistory(ctx, subject, limit)
	if err != nil {
		return nil, err
	}
	idx, err := base64.RawURLEncoding.DecodeString(subject)
	if err != nil {
		return out, nil
	}
	first, last, err := c.reg.ImportsOf(ctx, idx)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	ids := []string{first}
	if last != first {
		ids = append(ids, last)
	}
	batches, err := c.log.BatchHistory(ctx, slices.DeleteFunc(ids, func(s string) bool { return s == "" }))
	if err != nil {
		return nil, err
	}
	out = append(out, batches...)
	slices.SortStableFunc(out, func(x, y audit.RecordedAccess) int { // newest first, as the log ordered them
		if c := y.At.Compare(x.At); c != 0 {
			return c
		}
		return cmp.Compare(y.LeafIndex, x.LeafIndex)
	})
	return out, nil
}

// recordCLI records a command-line access to one citizen's record: the
// command line's user as the machine principal "machine:cli", with the
// reason, in the citizen's history and the log. (Whoever runs these
// commands holds the database and the master key; the record makes their
// reads visible, as the console's are.)
func (a *app) recordCLI(ctx context.Context, id registry.IDNumber, action string, why operator.Reason) error {
	t, err := a.openTrust(ctx)
	if err != nil {
		return err
	}
	subj, err := a.subjectOf(string(id))
	if err != nil {
		return err
	}
	_, err = t.audit.RecordAccess(ctx, audit.Access{Subject: subj, At: time.Now(), Operator: "machine:cli",
		Kind: string(operator.Machine), Name: cliUser(), Office: "command line", Action: action, Reason: why.String()})
	if err != nil {
		return fmt.Errorf("record the access: %w", err)
	}
	return nil
}

// cliUser is the operating-system user running the command.
func cliUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
