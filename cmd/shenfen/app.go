package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/atomicfile"
	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
)

// app is what every subcommand that touches data opens: the configuration,
// the logger and the database, plus the domain services built on them.
type app struct {
	cfg config.Config
	log *slog.Logger
	db  *store.DB

	// sealer encrypts PII at rest (master key file) and makes blind indexes.
	sealer *seal.Sealer
	// registry is the population registry; registryMetrics feeds /metrics.
	registry        *registry.Service
	registryMetrics *registryMetrics
	// trust is the issuer keys, status lists and audit log (openTrust).
	trust *trustServices
	// adminGuard is the admin API's access control (guard).
	adminGuard *admin.Guard
	// importReason is the reason recorded with a registry import's batch.
	importReason operator.Reason
	// loops is the background work serve runs and joins at shutdown.
	loops []loop
}

// openApp prepares the data directory, opens the database and loads the
// master key.
func openApp(ctx context.Context, cfg config.Config) (*app, error) {
	a, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.openRegistry(ctx); err != nil {
		a.db.Close()
		return nil, err
	}
	return a, nil
}

// openDB prepares the data directory and opens the database, without the
// master key (shenfen keys init-master makes it).
func openDB(ctx context.Context, cfg config.Config) (*app, error) {
	log := cfg.Logger()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	return &app{cfg: cfg, log: log, db: db}, nil
}

// Close releases what openApp opened.
func (a *app) Close() error {
	a.trust.close()
	return a.db.Close()
}

// secretFile returns the content of path, creating it with n random bytes
// (hex-encoded) on first use, readable only by the owner.
func secretFile(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	buf := make([]byte, n)
	rand.Read(buf)
	s := hex.EncodeToString(buf)
	if err := atomicfile.Create(path, []byte(s+"\n"), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it first
			return secretFile(path, n)
		}
		return "", err
	}
	return s, nil
}

// rateLimiter is a rate limit kept in the database, so that every shenfen
// process sharing it counts together and a restart forgets nothing; keys
// are stored as blind indexes (they name addresses and ID numbers).
func (a *app) rateLimiter(name string, every time.Duration, burst int) *store.RateLimiter {
	return a.db.RateLimiter(name, every, burst, func(key string) []byte { return a.sealer.Index("rate-limit", []byte(key)) })
}

// enrollmentLimits are the enrollment's rate limits, in the database.
func (a *app) enrollmentLimits() proofing.Limits {
	return proofing.Limits{
		Device:   a.rateLimiter("enroll-device", proofing.DeviceEvery, proofing.DeviceBurst),
		Client:   a.rateLimiter("enroll-client", proofing.ClientEvery, proofing.ClientBurst),
		IDNumber: a.rateLimiter("enroll-id-number", proofing.IDNumberEvery, proofing.IDNumberBurst),
		IDDevice: a.rateLimiter("enroll-id-device", proofing.IDDeviceEvery, proofing.IDDeviceBurst),
	}
}
