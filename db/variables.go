package db

import (
	"context"
	"fmt"
)

// Variable kinds.
const (
	VarEnv      = "env"
	VarBuildArg = "build_arg"
)

// Variable is one environment variable or build argument, decrypted.
type Variable struct {
	Key   string `db:"key" json:"key"`
	Value string `db:"-" json:"value"`
}

// AppVariables returns an app's variables of one kind, in the user's order.
func (s *Store) AppVariables(ctx context.Context, appID int64, kind string) ([]Variable, error) {
	rows := []struct {
		Key      string `db:"key"`
		ValueEnc []byte `db:"value_enc"`
	}{}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT key, value_enc FROM service_variables WHERE service_id = $1 AND kind = $2 ORDER BY position`, appID, kind); err != nil {
		return nil, err
	}
	out := make([]Variable, len(rows))
	for i, r := range rows {
		v, err := s.cipher.Open(r.ValueEnc)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", r.Key, err)
		}
		out[i] = Variable{Key: r.Key, Value: v}
	}
	return out, nil
}

// AppVariableKeys returns the keys of an app's variables of one kind, in
// the user's order, without reading or decrypting any value: for pages
// that show the names and mask the values.
func (s *Store) AppVariableKeys(ctx context.Context, appID int64, kind string) ([]Variable, error) {
	out := []Variable{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT key FROM service_variables WHERE service_id = $1 AND kind = $2 ORDER BY position`, appID, kind)
	return out, opError("app variable keys", err)
}

// SetAppVariables replaces all variables of one kind in one transaction.
func (s *Store) SetAppVariables(ctx context.Context, appID int64, kind string, vars []Variable) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM service_variables WHERE service_id = $1 AND kind = $2`, appID, kind); err != nil {
		return err
	}
	for i, v := range vars {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO service_variables (service_id, kind, key, value_enc, position) VALUES ($1, $2, $3, $4, $5)`,
			appID, kind, v.Key, s.cipher.Seal(v.Value), i); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Port publishes a container port on the nodes.
type Port struct {
	ID        int64  `db:"id" json:"-"`
	ServiceID int64  `db:"service_id" json:"-"`
	Published int    `db:"published" json:"published"`
	Target    int    `db:"target" json:"target"`
	Protocol  string `db:"protocol" json:"protocol"`
	Mode      string `db:"mode" json:"mode"`
}

// AppPorts lists an app's published ports.
func (s *Store) AppPorts(ctx context.Context, appID int64) ([]Port, error) {
	out := []Port{}
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM service_ports WHERE service_id = $1 ORDER BY published`, appID)
	return out, opError("app ports", err)
}

// SetAppPorts replaces an app's published ports.
func (s *Store) SetAppPorts(ctx context.Context, appID int64, ports []Port) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM service_ports WHERE service_id = $1`, appID); err != nil {
		return err
	}
	for _, p := range ports {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO service_ports (service_id, published, target, protocol, mode) VALUES ($1, $2, $3, $4, $5)`,
			appID, p.Published, p.Target, p.Protocol, p.Mode)
		if isUniqueViolation(err) {
			return conflictf("port %d/%s is already published by another app", p.Published, p.Protocol)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}
