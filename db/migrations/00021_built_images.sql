-- +goose Up
-- The images app builds produced, by engine image ID ("sha256:…"): the
-- image a deployment built, or the last layer a failed build committed
-- (kept as cache for the next build). Builds no longer label their images
-- (a label is a LABEL step that commits a container on every deploy), so
-- this is how the platform knows whose an image is: a build may not take
-- another app's image (jobs/docker/docker_sources.go), and cleanup finds
-- the dangling images of an app here.
--
-- service_id has no foreign key on purpose: the rows outlive the app, so
-- an image that survived its app's removal is still nobody else's.
-- app_name is the app's name when it built the image. The same image can
-- be built by two apps (a fully cached build of identical sources gives
-- the same ID), hence one row per app.
CREATE TABLE built_images (
    image_id      TEXT NOT NULL CHECK (image_id LIKE 'sha256:%'),
    service_id    BIGINT NOT NULL,
    app_name      TEXT NOT NULL,
    deployment_id BIGINT REFERENCES deployments(id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (image_id, service_id)
);
CREATE INDEX built_images_service_id ON built_images(service_id);

-- +goose Down
DROP TABLE built_images;
