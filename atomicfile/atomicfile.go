// Package atomicfile writes files that survive a crash, a full disk or a
// power loss whole or not at all: the content goes to a temporary file in
// the same directory, every Write, Sync and Close error is checked, and only
// a complete, synced file is renamed (or linked) into place, after which the
// directory itself is synced so that the new name is durable too. A failed
// write leaves the previous file untouched.
//
// shenfen keeps its durable local state this way: the key ring, sealed key
// files, the master key, the admin token and OIDC secret, the registry
// import manifests and the auditor's state file.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExist is returned by [Create] when path exists already (it wraps
// fs.ErrExist, so errors.Is(err, fs.ErrExist) holds too).
var ErrExist = fmt.Errorf("atomicfile: %w", fs.ErrExist)

// file is what a write needs of an *os.File; tests swap in failing ones.
type file interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// createTemp makes the temporary file; a variable so that a test can inject
// write, sync and close failures.
var createTemp = func(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }

// Write replaces path with data, atomically and durably: readers and a
// crash see either the old content or the new, never a mix or a truncated
// file. The file gets mode perm (the umask does not apply).
func Write(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// Create writes data to path, which must not exist: it fails wrapping
// [ErrExist] when it does, and never overwrites. Like [Write], path appears
// complete or not at all. It suits files that must never be replaced, such
// as keys.
func Create(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	// A hard link fails when the target exists, where a rename would
	// replace it.
	err = os.Link(tmp, path)
	os.Remove(tmp)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExist, path)
	}
	if err != nil {
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new synced and closed temporary file next to
// path and returns its name; on any error it removes it.
func writeTemp(path string, data []byte, perm fs.FileMode) (_ string, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	name := f.Name()
	defer func() {
		if err != nil {
			os.Remove(name)
			err = fmt.Errorf("atomicfile: %s: %w", path, err)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	if err := os.Chmod(name, perm); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("atomicfile: sync directory %s: %w", dir, err)
	}
	return nil
}
