package db

import (
	"context"
	"time"
)

// AppVolume is a named volume an app mounts.
type AppVolume struct {
	ID        int64     `db:"id" json:"-"`
	ServiceID int64     `db:"service_id" json:"-"`
	Name      string    `db:"name" json:"name"`
	Path      string    `db:"path" json:"path"`
	CreatedAt time.Time `db:"created_at" json:"-"`
}

// VolumeName is the Docker volume of an app's volume.
func VolumeName(appName, volume string) string { return appName + "-" + volume }

// AppVolumes lists an app's volumes by name.
func (s *Store) AppVolumes(ctx context.Context, appID int64) ([]AppVolume, error) {
	out := []AppVolume{}
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM app_volumes WHERE service_id = $1 ORDER BY name`, appID)
	return out, opError("app volumes", err)
}

// SetAppVolumes replaces an app's volumes. The Docker volumes themselves
// (and their data) stay: declaring a name again finds them.
func (s *Store) SetAppVolumes(ctx context.Context, appID int64, vols []AppVolume) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM app_volumes WHERE service_id = $1`, appID); err != nil {
		return opError("set app volumes", err)
	}
	for _, v := range vols {
		if _, err := tx.ExecContext(ctx, `INSERT INTO app_volumes (service_id, name, path) VALUES ($1, $2, $3)`, appID, v.Name, v.Path); err != nil {
			if isUniqueViolation(err) {
				return conflictf("volume %q or path %q is declared twice", v.Name, v.Path)
			}
			return opError("set app volumes", err)
		}
	}
	return tx.Commit()
}
