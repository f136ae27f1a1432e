package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenReplica opens a PostgreSQL replica (a standby, or HAProxy's replica
// port) for reads that may lag the primary by the replication delay. It
// applies no migrations and its connections do not wait for a primary: a
// caller falls back to the primary when the replica does not answer.
func OpenReplica(ctx context.Context, url string) (*DB, error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, errors.New("store: a replica is a postgres:// URL")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: open replica: %w", err)
	}
	s := sql.OpenDB(stdlib.GetConnector(*cfg))
	s.SetMaxOpenConns(8)
	s.SetMaxIdleConns(8)
	s.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{sql: s, durable: s, dialect: Postgres}
	if err := s.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: connect replica: %w", err)
	}
	return db, nil
}
