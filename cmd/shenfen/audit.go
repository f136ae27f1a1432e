package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/shenfen/shenfen/atomicfile"
	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/trustapi"
)

func init() {
	commands["audit"] = command{"auditor: check a shenfen transparency log", runAudit}
}

const auditUsage = `usage: shenfen audit check --log URL (--anchors FILE | --trust-list URL | --checkpoint-key KEY) [--state FILE]

Fetches the log's signed tree head from URL/audit/sth, checks its signature
against the authority's root certificates (a PEM file, or URL/trust-list.pem
fetched now), and, when --state holds the head seen last time, checks with a
consistency proof that the log only grew. The new head is then written to
--state (default shenfen-audit.json). Run it regularly: a log that rewrote
its history, or showed this auditor a fork, fails here.

With --checkpoint-key (the log's note verifier key, "origin+hash+base64",
as URL/audit/checkpoint-key serves it and the authority publishes it, or a
file holding it), the same check follows the log's C2SP checkpoints at
URL/audit/checkpoint instead, as a witness or monitor does.
`

// auditState is the auditor's memory of the last verified head.
type auditState struct {
	Log       string `json:"log"`
	TreeSize  uint64 `json:"tree_size"`
	Timestamp int64  `json:"timestamp"`
	RootHash  []byte `json:"sha256_root_hash"`
	Signature string `json:"signature,omitempty"`
	// Origin is the checkpoint origin (checkpoint mode).
	Origin string `json:"origin,omitempty"`
}

func runAudit(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(os.Stderr, auditUsage)
		return errors.New("usage: shenfen audit check [flags]")
	}
	flags := flag.NewFlagSet("audit check", flag.ContinueOnError)
	logURL := flags.String("log", "", "base URL of the shenfen server whose log is audited")
	anchorsFile := flags.String("anchors", "", "PEM file of the authority's root certificates")
	trustList := flags.String("trust-list", "", "URL of the authority's trust list in PEM (e.g. BASE/trust-list.pem)")
	stateFile := flags.String("state", "shenfen-audit.json", "file keeping the last verified tree head")
	noteKey := flags.String("checkpoint-key", "", "the log's note verifier key (or a file holding it): follow C2SP checkpoints")
	flags.Usage = func() { fmt.Fprint(os.Stderr, auditUsage); flags.PrintDefaults() }
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	modes := 0
	for _, f := range []string{*anchorsFile, *trustList, *noteKey} {
		if f != "" {
			modes++
		}
	}
	if *logURL == "" || modes != 1 {
		flags.Usage()
		return errors.New("need --log and exactly one of --anchors, --trust-list, --checkpoint-key")
	}
	if *noteKey != "" {
		return followCheckpoints(ctx, strings.TrimSuffix(*logURL, "/"), *noteKey, *stateFile)
	}
	var pemBytes []byte
	var err error
	if *anchorsFile != "" {
		pemBytes, err = os.ReadFile(*anchorsFile)
	} else {
		pemBytes, err = trustapi.Fetcher{}.FetchPEM(ctx, *trustList)
	}
	if err != nil {
		return err
	}
	anchors, err := credential.ParseAnchorsPEM(pemBytes)
	if err != nil {
		return err
	}
	roots := anchors.Roots()
	var prev *audit.TreeHead
	if b, err := os.ReadFile(*stateFile); err == nil {
		var st auditState
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("--state %s: %w", *stateFile, err)
		}
		if st.Log != strings.TrimSuffix(*logURL, "/") {
			return fmt.Errorf("--state %s belongs to the log at %s", *stateFile, st.Log)
		}
		prev = &audit.TreeHead{Size: st.TreeSize, Timestamp: time.UnixMilli(st.Timestamp)}
		copy(prev.Root[:], st.RootHash)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	src := trustapi.AuditClient{Base: *logURL}
	h, err := audit.CheckHead(ctx, src, audit.KeyFunc(status.ChainKeys(roots...)), prev, time.Now())
	if err != nil {
		return err
	}
	st := auditState{Log: strings.TrimSuffix(*logURL, "/"), TreeSize: h.Size, Timestamp: h.Timestamp.UnixMilli(), RootHash: h.Root[:], Signature: h.JWS}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.Write(*stateFile, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if prev == nil {
		fmt.Printf("log %s: tree head verified, %d entries (first check; kept in %s)\n", st.Log, h.Size, *stateFile)
	} else {
		fmt.Printf("log %s: consistent, %d -> %d entries\n", st.Log, prev.Size, h.Size)
	}
	return nil
}

// followCheckpoints is audit check over C2SP checkpoints: verify the
// log's checkpoint with its note key and, from the second run on, that it
// extends the one kept in stateFile.
func followCheckpoints(ctx context.Context, logURL, key, stateFile string) error {
	vkey := strings.TrimSpace(key)
	if !strings.Contains(vkey, "+") { // a file
		b, err := os.ReadFile(key)
		if err != nil {
			return fmt.Errorf("--checkpoint-key: %w", err)
		}
		vkey = strings.TrimSpace(string(b))
	}
	var prev *audit.Checkpoint
	if b, err := os.ReadFile(stateFile); err == nil {
		var st auditState
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("--state %s: %w", stateFile, err)
		}
		if st.Log != logURL {
			return fmt.Errorf("--state %s belongs to the log at %s", stateFile, st.Log)
		}
		if st.Origin == "" || len(st.RootHash) != len(audit.Hash{}) {
			return fmt.Errorf("--state %s holds no checkpoint (it was made following the JWS heads)", stateFile)
		}
		prev = &audit.Checkpoint{Origin: st.Origin, Size: st.TreeSize}
		copy(prev.Root[:], st.RootHash)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	c, err := audit.FollowCheckpoint(ctx, trustapi.AuditClient{Base: logURL}, vkey, prev)
	if err != nil {
		return err
	}
	st := auditState{Log: logURL, TreeSize: c.Size, RootHash: c.Root[:], Origin: c.Origin}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.Write(stateFile, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if prev == nil {
		fmt.Printf("log %s (%s): checkpoint verified, %d entries (first check; kept in %s)\n", logURL, c.Origin, c.Size, stateFile)
	} else {
		fmt.Printf("log %s (%s): consistent, %d -> %d entries\n", logURL, c.Origin, prev.Size, c.Size)
	}
	return nil
}
