package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"

	"dokploy/jobs/internal/linewriter"
	"dokploy/jobs/netguard"
)

// RegistryAuth holds credentials for a private registry. Never logged.
type RegistryAuth struct {
	Username      string
	Password      string
	ServerAddress string
}

// encode returns the X-Registry-Auth header value ("" for no auth).
func (a *RegistryAuth) encode() (string, error) {
	if a == nil {
		return "", nil
	}
	s, err := registry.EncodeAuthConfig(registry.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		ServerAddress: a.ServerAddress,
	})
	if err != nil {
		return "", fmt.Errorf("encode registry auth: %w", err)
	}
	return s, nil
}

// ValidateImageRef checks a user-supplied image reference ("nginx",
// "ghcr.io/o/app:1.2", "app@sha256:…") the way docker does.
func ValidateImageRef(ref string) error {
	if ref == "" || strings.TrimSpace(ref) != ref {
		return fmt.Errorf("invalid image reference %q: empty or surrounded by spaces", ref)
	}
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return nil
}

// ImageRepoLabel is the label filter ("key=value") matching the images
// builds for ref's repository produced.
func ImageRepoLabel(ref string) string { return LabelImageRepo + "=" + imageRepo(ref) }

// imageRepo returns the tag-less repository of a valid reference
// ("app:v2" → "app", "ghcr.io/o/app:1" → "ghcr.io/o/app").
func imageRepo(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarName(named)
}

// Pull fetches ref like `docker pull`, logging each layer's status changes.
// A reference without tag means ":latest". If the registry cannot be reached
// but the image exists locally, it logs that and returns nil, so deploys keep
// working offline with images that are already there.
func (d *Docker) Pull(ctx context.Context, ref string, auth *RegistryAuth, log LogFunc) error {
	if err := ValidateImageRef(ref); err != nil {
		return err
	}
	encoded, err := auth.encode()
	if err != nil {
		return err
	}
	if err := d.checkRegistry(ctx, ref); err != nil {
		return err
	}
	log.printf("Pulling %s", ref)
	err = d.pull(ctx, ref, encoded, log)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if _, inspectErr := d.cli.ImageInspect(ctx, ref); inspectErr == nil {
		log.printf("registry unreachable, using local image %s (%s)", ref, err)
		return nil
	}
	return err
}

func (d *Docker) pull(ctx context.Context, ref, encodedAuth string, log LogFunc) error {
	body, err := d.cli.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: encodedAuth})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer body.Close()
	last := map[string]string{} // layer id → last logged status
	err = decodeStream(body, func(m streamMessage) {
		if m.Status == "" || last[m.ID] == m.Status {
			return // progress bar ticks repeat the status; skip them
		}
		last[m.ID] = m.Status
		if m.ID != "" {
			log.printf("%s: %s", m.ID, m.Status)
		} else {
			log.line(m.Status)
		}
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

// RemoveImages removes every tag of repo ("app" removes app:latest, app:v3…)
// and prunes untagged images that labelled builds for repo left behind
// (compose builds, app builds before they were recorded; the runner removes
// the dangling images recorded app builds left). Images still used by a
// container and images already gone are skipped silently.
func (d *Docker) RemoveImages(ctx context.Context, repo string) error {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil || !reference.IsNameOnly(named) {
		return fmt.Errorf("invalid image repository %q: want a name without tag or digest", repo)
	}
	familiar := reference.FamiliarName(named)
	images, err := d.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", familiar))})
	if err != nil {
		return fmt.Errorf("list images of %s: %w", familiar, err)
	}
	var errs []error
	for _, img := range images {
		for _, tag := range img.RepoTags {
			if imageRepo(tag) != familiar {
				continue
			}
			_, err := d.cli.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true})
			if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
				errs = append(errs, fmt.Errorf("remove image %s: %w", tag, err))
			}
		}
	}
	prune := filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("label", LabelImageRepo+"="+familiar))
	if _, err := d.cli.ImagesPrune(ctx, prune); err != nil && !cerrdefs.IsConflict(err) {
		// A prune already running elsewhere answers 409; that is fine.
		errs = append(errs, fmt.Errorf("prune dangling images of %s: %w", familiar, err))
	}
	return errors.Join(errs...)
}

// streamMessage is one JSON object of the engine's build and pull streams.
type streamMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	ID          string `json:"id"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

func (m streamMessage) err() error {
	switch {
	case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
		return errors.New(m.ErrorDetail.Message)
	case m.Error != "":
		return errors.New(m.Error)
	}
	return nil
}

// decodeStream calls fn for every message and returns the first error
// message the engine sent, or the read error.
func decodeStream(r io.Reader, fn func(streamMessage)) error {
	dec := json.NewDecoder(r)
	for {
		var m streamMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read engine stream: %w", err)
		}
		if err := m.err(); err != nil {
			return err
		}
		fn(m)
	}
}

// readBuildStream sends each output line of a build to log and returns the
// image ID from the final aux message, or the build's error message.
func readBuildStream(r io.Reader, log LogFunc) (imageID string, err error) {
	lines := linewriter.New(log, time.Second)
	pullStatus := map[string]string{} // FROM images pulled during the build
	err = decodeStream(r, func(m streamMessage) {
		if m.Stream != "" {
			_, _ = lines.Write([]byte(m.Stream))
		}
		if m.Status != "" && pullStatus[m.ID] != m.Status {
			pullStatus[m.ID] = m.Status
			lines.Flush()
			log.line(strings.TrimPrefix(m.ID+": "+m.Status, ": "))
		}
		if len(m.Aux) > 0 {
			var aux struct{ ID string }
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				imageID = aux.ID
			}
		}
	})
	lines.Flush()
	if err != nil {
		return "", err
	}
	return imageID, nil
}

// checkRegistry refuses a pull whose registry resolves to a blocked address.
// dockerd makes the connection itself, so this runs just before the pull
// (after DNS here; dockerd resolves again, which a rebinding DNS server could
// still race, see the README).
func (d *Docker) checkRegistry(ctx context.Context, ref string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	host, port, err := registryAddress(reference.Domain(named))
	if err != nil {
		return err
	}
	if err := d.opts.Guard.CheckHostPort(ctx, host, port); err != nil {
		if errors.Is(err, netguard.ErrRefused) {
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		return nil // not resolvable here: let dockerd report it as usual
	}
	return nil
}

// registryAddress maps an image domain to the host and port dockerd dials.
func registryAddress(domain string) (string, int, error) {
	if domain == "docker.io" {
		return "registry-1.docker.io", 443, nil
	}
	host, p, err := net.SplitHostPort(domain)
	if err != nil {
		return domain, 443, nil //nolint:nilerr // no port: HTTPS default
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid registry port in %q", domain)
	}
	return host, port, nil
}
