package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokploy/e2e/testkit"
)

const (
	imgTag        = "dokploy:latest"
	imgMaxBytes   = 30_000_000 // the image must stay under 30 MB
	imgHealthWait = 60 * time.Second
)

// TestImage builds the container image with scripts/build-image.sh, checks it
// is small and shell-less, then runs the control plane from it (host network,
// Docker socket and a temp data dir mounted) against a fresh database until
// /api/health reports PostgreSQL, Redis and Docker up.
func TestImage(t *testing.T) {
	testkit.RequireDocker(t)
	root := testkit.RepoRoot(t)

	// Build (idempotent: unchanged sources hit docker's layer cache).
	buildCtx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	build := exec.CommandContext(buildCtx, "bash", filepath.Join(root, "scripts", "build-image.sh"))
	build.Dir = root
	start := time.Now()
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-image.sh failed after %s: %v\n%s", time.Since(start).Round(time.Second), err, out)
	}
	t.Logf("image built in %s", time.Since(start).Round(time.Second))

	ctx, cancelAll := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancelAll()

	t.Run("Config", func(t *testing.T) {
		raw, err := imgDocker(ctx, "image", "inspect", "--format", "{{json .}}", imgTag)
		if err != nil {
			t.Fatalf("docker image inspect %s: %v\n%s", imgTag, err, raw)
		}
		var img struct {
			Size   int64
			Config struct {
				Entrypoint   []string
				Cmd          []string
				Env          []string
				ExposedPorts map[string]struct{}
				Volumes      map[string]struct{}
			}
		}
		if err := json.Unmarshal([]byte(raw), &img); err != nil {
			t.Fatalf("decode image inspect: %v", err)
		}
		t.Logf("%s size: %s (%d bytes)", imgTag, imgMB(img.Size), img.Size)
		if img.Size <= 0 || img.Size >= imgMaxBytes {
			t.Errorf("image size %s, want < %s", imgMB(img.Size), imgMB(imgMaxBytes))
		}
		if got := strings.Join(img.Config.Entrypoint, " "); got != "/dokploy" {
			t.Errorf("entrypoint %q, want /dokploy", got)
		}
		if got := strings.Join(img.Config.Cmd, " "); got != "serve" {
			t.Errorf("cmd %q, want serve", got)
		}
		if !slices.Contains(img.Config.Env, "DOKPLOY_DATA_DIR=/data") {
			t.Errorf("env %v lacks DOKPLOY_DATA_DIR=/data", img.Config.Env)
		}
		if _, ok := img.Config.ExposedPorts["3000/tcp"]; !ok {
			t.Errorf("exposed ports %v lack 3000/tcp", img.Config.ExposedPorts)
		}
		if _, ok := img.Config.Volumes["/data"]; !ok {
			t.Errorf("volumes %v lack /data", img.Config.Volumes)
		}
	})

	t.Run("NoShell", func(t *testing.T) {
		for _, sh := range []string{"/bin/sh", "/bin/bash", "sh"} {
			out, err := imgDocker(ctx, "run", "--rm", "--network", "none", "--entrypoint", sh, imgTag, "-c", "true")
			if err == nil {
				t.Errorf("image has a shell: %s ran\n%s", sh, out)
			}
		}
		// The binary itself runs (and needs nothing from a libc).
		out, err := imgDocker(ctx, "run", "--rm", "--network", "none", imgTag, "version")
		if err != nil || !strings.HasPrefix(out, "dokploy ") {
			t.Errorf("dokploy version in the image: %v\n%s", err, out)
		}
	})

	t.Run("Serve", func(t *testing.T) {
		dbURL := imgNewDatabase(t)
		port := testkit.FreePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		dataDir := t.TempDir()
		name := "dokploy-img-test-" + imgRandHex(t, 4)

		args := []string{
			"run", "-d", "--name", name,
			"--network", "host",
			"-v", imgDockerSocket() + ":/var/run/docker.sock",
			"-v", dataDir + ":/data",
			"-e", "DOKPLOY_ADDR=" + addr,
			"-e", "DOKPLOY_SECRET_KEY=" + imgRandHex(t, 24), // 48 chars
			"-e", "DOKPLOY_DATABASE_URL=" + dbURL,
			"-e", "DOKPLOY_PUBLIC_URL=http://" + addr,
			"-e", "DOKPLOY_REDIS_URL=" + imgRedisURL(),
			// Its own queue: the worker must not take jobs of other dokploys.
			"-e", "DOKPLOY_REDIS_NAMESPACE=dokploy-img-" + imgRandHex(t, 4),
			// Leave the host's one dokploy-traefik container alone.
			"-e", "DOKPLOY_TRAEFIK=off",
			imgTag,
		}
		if out, err := imgDocker(ctx, args...); err != nil {
			t.Fatalf("docker run: %v\n%s", err, out)
		}
		// Registered after the database's cleanup, so it runs before the drop.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if out, err := imgDocker(ctx, "rm", "-f", "-v", name); err != nil {
				t.Errorf("docker rm %s: %v\n%s", name, err, out)
			}
		})
		dumpLogs := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			logs, _ := imgDocker(ctx, "logs", "--tail", "200", name)
			t.Logf("docker logs %s:\n%s", name, logs)
		}

		start := time.Now()
		body, err := imgWaitHealthy(ctx, t, name, "http://"+addr+"/api/health")
		if err != nil {
			dumpLogs()
			t.Fatalf("container never became healthy: %v", err)
		}
		t.Logf("healthy %s after docker run", time.Since(start).Round(time.Millisecond))

		var health struct {
			Status     string
			Components map[string]struct {
				OK    bool
				Error string
			}
		}
		if err := json.Unmarshal(body, &health); err != nil {
			dumpLogs()
			t.Fatalf("decode health %q: %v", body, err)
		}
		if health.Status != "ok" {
			t.Errorf("health status %q, want ok: %s", health.Status, body)
		}
		for _, c := range []string{"postgres", "redis", "docker"} {
			if comp, ok := health.Components[c]; !ok || !comp.OK {
				t.Errorf("component %s not ok (%+v): %s", c, comp, body)
			}
		}
		if t.Failed() {
			dumpLogs()
		}
	})
}

// imgWaitHealthy polls url until it answers 200, the container stops, or
// imgHealthWait passes; it returns the 200 body.
func imgWaitHealthy(ctx context.Context, t *testing.T, container, url string) ([]byte, error) {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(imgHealthWait)
	last := "no answer yet"
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return body, nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if attempt%8 == 7 { // every ~2 s: give up early if the container died
			state, err := imgDocker(ctx, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container)
			if err != nil || !strings.HasPrefix(state, "running") {
				return nil, fmt.Errorf("container is not running (%s %v); last health answer: %s", state, err, last)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("no 200 within %s; last answer: %s", imgHealthWait, last)
}
