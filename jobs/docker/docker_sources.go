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
// local image if it has one (by tag, digest or ID prefix), and a local
// image carrying the label dokploy.app=<other app> belongs to that app: the
// build is refused. The app's own images (its label is the app's name, in
// BuildSpec.Labels[LabelApp]) are fine; so is every reference with no local
// image (the engine pulls it from its registry) and local images with no
// app label (registry images pulled earlier). Builds whose spec names no
// app may use no app's image.
//
// The check runs twice: on the Dockerfile before the build (every FROM, with
// ARG substitution, and COPY --from; plus the ONBUILD triggers of the local
// images used), and on the base images the engine reports it actually used
// (" ---> <id>" after each FROM step), so a reference this package
// substituted differently from the engine is still caught, before the
// image can be deployed.

// checkImageSources refuses a build whose Dockerfile takes another app's image.
func (d *Docker) checkImageSources(ctx context.Context, dockerfile []byte, spec BuildSpec) error {
	uses, err := dockerfileImages(string(dockerfile), spec.BuildArgs)
	if err != nil {
		return fmt.Errorf("check the Dockerfile's images: %w", err)
	}
	for _, u := range uses {
		if err := d.checkImageUse(ctx, u, buildOwner(spec), true); err != nil {
			return err
		}
	}
	return nil
}

func (d *Docker) checkImageUse(ctx context.Context, u imageUse, own string, triggers bool) error {
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
		if err := foreign(inspect, own); err != nil {
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
				if err := d.checkImageUse(ctx, tu, own, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// imageOwner is the app whose build produced an image: its dokploy.app
// label (compose builds, and app builds before they carried one label),
// else its dokploy.image repository (app builds); "" for other images.
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

func foreign(inspect image.InspectResponse, own string) error {
	if inspect.Config == nil {
		return nil
	}
	if app := imageOwner(inspect.Config.Labels); app != "" && app != own {
		return fmt.Errorf("the image is app %s's, not this app's: %w", app, ErrForeignImage)
	}
	return nil
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
		if err := foreign(inspect, buildOwner(spec)); err != nil {
			for _, tag := range spec.Tags {
				_, _ = d.cli.ImageRemove(context.WithoutCancel(ctx), tag, image.RemoveOptions{PruneChildren: true})
			}
			n, text, _ := strings.Cut(strings.TrimPrefix(b.step, "Step "), " : ")
			return fmt.Errorf("Dockerfile step %s (%s): %w", n, text, err)
		}
	}
	return nil
}
