package db

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
)

// Setting keys. Values are strings; typed accessors live next to their users.
const (
	SettingDeployConcurrency = "deploy_concurrency"
)

// Setting returns a setting's value or def when unset.
func (s *Store) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := s.db.GetContext(ctx, &v, `SELECT value FROM settings WHERE key = $1`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	return v, err
}

// SetSetting upserts a setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
	return err
}

// DeployConcurrency is how many deployments may run at once (default 1).
func (s *Store) DeployConcurrency(ctx context.Context) (int, error) {
	v, err := s.Setting(ctx, SettingDeployConcurrency, "1")
	if err != nil {
		return 1, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1, nil
	}
	return n, nil
}
