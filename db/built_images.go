package db

import "context"

// ImageBuilder is an app whose build produced an image.
type ImageBuilder struct {
	ServiceID int64  `db:"service_id"`
	AppName   string `db:"app_name"` // the app's current name; its name then if it was deleted
	Deleted   bool   `db:"deleted"`  // the app no longer exists
}

// RecordBuiltImage records that deployment deploymentID of app serviceID
// (named appName) built the image imageID ("sha256:…"). Recording the
// same image twice for one app keeps the first deployment.
func (s *Store) RecordBuiltImage(ctx context.Context, deploymentID, serviceID int64, appName, imageID string) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO built_images (image_id, service_id, app_name, deployment_id)
		VALUES ($1, $2, $3, $4) ON CONFLICT (image_id, service_id) DO NOTHING`,
		imageID, serviceID, appName, deploymentID)
	return opError("record built image", err)
}

// ImageBuilders lists the apps whose builds produced imageID, deleted
// apps included; none for images no app build produced (registry images,
// compose builds, images built before builds were recorded).
func (s *Store) ImageBuilders(ctx context.Context, imageID string) ([]ImageBuilder, error) {
	out := []ImageBuilder{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT b.service_id, coalesce(s.name, b.app_name) AS app_name, s.id IS NULL AS deleted
		FROM built_images b LEFT JOIN services s ON s.id = b.service_id
		WHERE b.image_id = $1 ORDER BY b.created_at`, imageID)
	return out, opError("image builders", err)
}

// BuiltImagesAmong returns the IDs among ids that an app build produced;
// only those of app serviceID when serviceID is not 0.
func (s *Store) BuiltImagesAmong(ctx context.Context, ids []string, serviceID int64) ([]string, error) {
	out := []string{}
	if len(ids) == 0 {
		return out, nil
	}
	err := s.db.SelectContext(ctx, &out, `
		SELECT DISTINCT image_id FROM built_images
		WHERE image_id = ANY($1) AND ($2 = 0 OR service_id = $2) ORDER BY image_id`,
		pqStringArray(ids), serviceID)
	return out, opError("built images", err)
}
