package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
)

// ErrMasterKey is wrapped by every refusal of the master key: missing where
// data already depends on one, unusable, or not the key that sealed the data.
var ErrMasterKey = errors.New("master key")

// defaultMasterKeyFile is where the master key lives when the
// configuration names no file.
func defaultMasterKeyFile(dataDir string) string { return filepath.Join(dataDir, "master.key") }

// openMasterKey loads the master key and checks that it is the key that
// sealed this installation's data.
//
// A new key is made only when nothing can depend on an old one: the key
// file is the default DATA/master.key (never a file the operator named:
// a mistyped path must not receive key material), the database holds no
// data and DATA holds no sealed issuer keys. Anywhere else a missing, empty,
// short or wrong key stops the command with an error naming the file and
// the cause; `shenfen keys init-master` makes a key at a named path for a
// new installation.
//
// The key's check values (package seal) are recorded in the database the
// first time; every later start compares them, so a different key file is
// refused before it seals anything (before: a missing key was replaced and
// the registry imported a second time under the new one).
func (a *app) openMasterKey(ctx context.Context) (*seal.Sealer, error) {
	path := a.cfg.MasterKeyFile
	s, err := seal.LoadKeyFile(path)
	if errors.Is(err, seal.ErrNoKeyFile) {
		// Servers started together on a new database and a shared data
		// directory decide one at a time: the first makes the key (and
		// seals with it), the others then find its file.
		unlock, lerr := a.db.Lock(ctx, "master-key")
		if lerr != nil {
			return nil, fmt.Errorf("%w: %w", ErrMasterKey, lerr)
		}
		defer unlock()
		s, err = seal.LoadKeyFile(path)
	}
	created := false
	switch {
	case errors.Is(err, seal.ErrNoKeyFile):
		if path != defaultMasterKeyFile(a.cfg.DataDir) {
			return nil, fmt.Errorf("%w: %w; shenfen makes a key only at the default DATA/master.key of a new installation: restore the file from backup, correct --master-key-file, or for a new installation run `shenfen keys init-master --master-key-file %s`", ErrMasterKey, err, path)
		}
		why, derr := a.dataNeedingKey(ctx)
		if derr != nil {
			return nil, derr
		}
		if why != "" {
			return nil, fmt.Errorf("%w: %w, but %s: restore the key file from backup (a new key would leave that data unreadable)", ErrMasterKey, err, why)
		}
		s, err = seal.CreateKeyFile(path)
		if errors.Is(err, fs.ErrExist) { // another process made it first
			s, err = seal.LoadKeyFile(path)
		} else {
			created = err == nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMasterKey, err)
		}
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	if created {
		a.log.Warn("made a new master key; back it up: without it the registry cannot be read", "file", path)
	}
	if err := a.checkMasterKey(ctx, s, path); err != nil {
		if created {
			// Another process sealed the (shared) database under its own
			// new key first: this one was never used; leave no stray key.
			os.Remove(path)
		}
		return nil, err
	}
	return s, nil
}

// checkMasterKey compares s with the check values recorded in the
// database, recording them on first use. A database from before check
// values (data but none recorded) is checked by opening a registry record
// and the issuer keys, when there are any.
func (a *app) checkMasterKey(ctx context.Context, s *seal.Sealer, path string) error {
	recorded, err := a.db.KeyChecks(ctx)
	if err != nil {
		return err
	}
	if len(recorded) == 0 {
		if err := a.openSealedData(ctx, s); err != nil {
			return fmt.Errorf("%w: %s does not open the data already here (%w); use the key file that sealed it", ErrMasterKey, path, err)
		}
	}
	verify := func() error {
		if err := s.Verify(recorded); err != nil {
			return fmt.Errorf("%w: %s: %w; use the key file that sealed this database's data", ErrMasterKey, path, err)
		}
		return nil
	}
	// Check before recording anything, so that a wrong file adds no check
	// value of its own; then record the new key IDs and check again, so
	// that two processes starting at once on a new database agree.
	if err := verify(); err != nil {
		return err
	}
	if err := a.db.AddKeyChecks(ctx, s.CheckValues(), time.Now()); err != nil {
		return err
	}
	if recorded, err = a.db.KeyChecks(ctx); err != nil {
		return err
	}
	return verify()
}

// openSealedData opens one registry record and the current issuer key
// with s, when there are any.
func (a *app) openSealedData(ctx context.Context, s *seal.Sealer) error {
	row, err := store.NewRegistry(a.db).FirstRow(ctx)
	switch {
	case err == nil:
		if err := registry.NewService(nil, s).Opens(row); err != nil {
			return err
		}
	case !errors.Is(err, registry.ErrNotFound):
		return err
	}
	dir := filepath.Join(a.cfg.DataDir, "keys")
	if _, err := os.Stat(filepath.Join(dir, "ring.json")); err == nil {
		if _, err := keys.Open(ctx, dir, keys.NewFileProvider(dir, s), keys.Config{}); err != nil {
			return err
		}
	}
	return nil
}

// dataNeedingKey says what, if anything, already depends on a master key:
// rows in the database or sealed key files in DATA. "" means a new
// installation.
func (a *app) dataNeedingKey(ctx context.Context) (string, error) {
	var why []string
	tables, err := a.db.TablesWithData(ctx)
	if err != nil {
		return "", err
	}
	if len(tables) > 0 {
		why = append(why, fmt.Sprintf("the database holds data (%s)", strings.Join(tables, ", ")))
	}
	if recorded, err := a.db.KeyChecks(ctx); err != nil {
		return "", err
	} else if len(recorded) > 0 {
		why = append(why, "the database recorded a master key already")
	}
	for _, sub := range []string{"keys", "keys-oidc", "keys-log"} {
		ents, err := os.ReadDir(filepath.Join(a.cfg.DataDir, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".key") || e.Name() == "ring.json" {
				why = append(why, fmt.Sprintf("%s holds sealed keys", filepath.Join(a.cfg.DataDir, sub)))
				break
			}
		}
	}
	return strings.Join(why, " and "), nil
}

// initMasterKey is `shenfen keys init-master`: it makes the master key at
// the configured path for a new installation, and refuses when the file
// exists or anything already depends on a master key.
func initMasterKey(ctx context.Context, a *app) error {
	path := a.cfg.MasterKeyFile
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s exists; it is never overwritten", ErrMasterKey, path)
	}
	why, err := a.dataNeedingKey(ctx)
	if err != nil {
		return err
	}
	if why != "" {
		return fmt.Errorf("%w: not making a key at %s: %s; restore the key file that sealed it", ErrMasterKey, path, why)
	}
	s, err := seal.CreateKeyFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	if err := a.checkMasterKey(ctx, s, path); err != nil {
		os.Remove(path)
		return err
	}
	fmt.Printf("made the master key %s; back it up: without it the registry cannot be read\n", path)
	return nil
}
