package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
)

// ErrForeignImage is returned (wrapped) when a build would take an image of
// another app.
var ErrForeignImage = errors.New("a build may use registry images and its own app's images only")

// The rule for what a build may take as an image (FROM, COPY --from,
// RUN --mount=from): whatever the reference, the engine resolves it to a
// local image if it has one (by tag, digest or ID prefix), so the check
// looks at that image, by its ID. A local image belongs to an app when
//
//   - an app build produced it: BuildSpec.Builders, which the runner
//     answers from the built_images table (app builds carry no label, see
//     buildOptions). Only the ID counts, never the name: a registry image
//     whose repository happens to be an app's name (postgres:16 next to an
//     app called postgres) is nobody's. An image whose app was deleted is
//     still nobody else's; or
//   - it carries the label dokploy.app=<app> (compose builds, and app
//     builds before they carried one label), else dokploy.image=<repo>
//     (app builds before they were recorded).
//
// A build may take the images of its own app (BuildSpec.Labels[LabelApp],
// else the first tag's repository, which is the app's name) and images
// that belong to no app: registry images pulled earlier, and every
// reference with no local image (the engine pulls it from its registry).
// An image two apps built (a fully cached build of the same sources gives
// the same ID) is either's. Builds whose spec names no app may use no
// app's image. If the store cannot answer, the build is refused.
//
// The check runs twice: on the Dockerfile before the build (every FROM, with
// ARG substitution, and COPY --from; plus the ONBUILD triggers of the local
// images used), and on the base images the engine reports it actually used
// (" ---> <id>" after each FROM step), so a reference this package
// substituted differently from the engine is still caught, before the
// image can be deployed.

// ImageBuilder is an app whose build produced an image.
type ImageBuilder struct {
	App     string // the app's name
	Deleted bool   // the app was deleted since
}

// checkImageSources refuses a build whose Dockerfile takes another app's image.
func (d *Docker) checkImageSources(ctx context.Context, dockerfile []byte, spec BuildSpec) error {
	uses, err := dockerfileImages(string(dockerfile), spec.BuildArgs)
	if err != nil {
		return fmt.Errorf("check the Dockerfile's images: %w", err)
	}
	for _, u := range uses {
		if err := d.checkImageUse(ctx, u, spec, true); err != nil {
			return err
		}
	}
	return nil
}

func (d *Docker) checkImageUse(ctx context.Context, u imageUse, spec BuildSpec, triggers bool) error {
	for _, ref := range u.Refs {
		inspect, err := d.cli.ImageInspect(ctx, ref)
		if cerrdefs.IsNotFound(err) || cerrdefs.IsInvalidArgument(err) {
			// No local image: a registry image (or none: the build says
			// so). The engine will pull it, so its registry is checked.
			if err := d.checkRegistry(ctx, ref); err != nil {
				return fmt.Errorf("%s: %w", u.where(), err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: check image %s: %w", u.where(), ref, err)
		}
		if err := d.foreign(ctx, inspect, spec); err != nil {
			return fmt.Errorf("%s: %w", u.where(), err)
		}
		if !triggers || inspect.Config == nil {
			continue
		}
		// ONBUILD COPY --from=… of a base image runs in this build.
		for _, trig := range inspect.Config.OnBuild {
			uses, err := dockerfileImages("FROM scratch\n"+trig+"\n", nil)
			if err != nil {
				return fmt.Errorf("%s: ONBUILD of %s: %w", u.where(), ref, err)
			}
			for _, tu := range uses {
				tu.Line, tu.Text = u.Line, u.Text+", ONBUILD "+shorten(trig)
				if err := d.checkImageUse(ctx, tu, spec, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// imageOwner is the app whose build labelled an image: its dokploy.app
// label (compose builds, and app builds before they carried one label),
// else its dokploy.image repository (app builds before they were recorded
// in built_images); "" for other images.
func imageOwner(labels map[string]string) string {
	if app := labels[LabelApp]; app != "" {
		return app
	}
	return labels[LabelImageRepo]
}

// buildOwner is the app a build is for, in imageOwner's terms.
func buildOwner(spec BuildSpec) string {
	if app := spec.Labels[LabelApp]; app != "" {
		return app
	}
	if len(spec.Tags) == 0 {
		return ""
	}
	return imageRepo(spec.Tags[0])
}

// foreign refuses an image that belongs to an app other than the build's:
// by its labels, then by what the store recorded of its ID.
func (d *Docker) foreign(ctx context.Context, inspect image.InspectResponse, spec BuildSpec) error {
	own := buildOwner(spec)
	if inspect.Config != nil {
		if app := imageOwner(inspect.Config.Labels); app != "" && app != own {
			return fmt.Errorf("the image is app %s's, not this app's: %w", app, ErrForeignImage)
		}
	}
	if spec.Builders == nil || inspect.ID == "" {
		return nil
	}
	builders, err := spec.Builders(ctx, inspect.ID)
	if err != nil {
		return fmt.Errorf("check which app built image %s: %w", shortID(strings.TrimPrefix(inspect.ID, "sha256:")), err)
	}
	for _, b := range builders {
		if !b.Deleted && b.App == own && own != "" {
			return nil
		}
	}
	if len(builders) == 0 {
		return nil
	}
	if b := builders[0]; b.Deleted {
		return fmt.Errorf("the image is deleted app %s's, not this app's: %w", b.App, ErrForeignImage)
	}
	return fmt.Errorf("the image is app %s's, not this app's: %w", builders[0].App, ErrForeignImage)
}

// checkBuiltBases looks at the base images the engine reported for each
// FROM step and, when one belongs to another app, removes what was built
// and refuses.
func (d *Docker) checkBuiltBases(ctx context.Context, t *buildTracker, spec BuildSpec) error {
	for _, b := range t.bases {
		inspect, err := d.cli.ImageInspect(ctx, b.id)
		if err != nil {
			continue // gone, or a stage's image that was removed
		}
		if err := d.foreign(ctx, inspect, spec); err != nil {
			for _, tag := range spec.Tags {
				_, _ = d.cli.ImageRemove(context.WithoutCancel(ctx), tag, image.RemoveOptions{PruneChildren: true})
			}
			n, text, _ := strings.Cut(strings.TrimPrefix(b.step, "Step "), " : ")
			return fmt.Errorf("Dockerfile step %s (%s): %w", n, text, err)
		}
	}
	return nil
}
