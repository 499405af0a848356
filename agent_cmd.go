package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"dokploy/jobs/docker"
	"dokploy/jobs/metrics"
)

// agentCmd runs the metrics collector of this node and pushes every round
// to the control plane: `dokploy agent` as a global Swarm service covers
// the nodes the control plane's own collector does not see.
func agentCmd(args []string, stdout io.Writer) error {
	var url, procRoot string
	return withFlags(stdout, args, "agent", func(fs *flag.FlagSet) {
		fs.StringVar(&url, "url", os.Getenv("DOKPLOY_AGENT_URL"), "control plane URL (DOKPLOY_AGENT_URL)")
		fs.StringVar(&procRoot, "proc", envOr("DOKPLOY_PROC_ROOT", "/proc"), "the host's /proc, bind-mounted when in a container (DOKPLOY_PROC_ROOT)")
	}, func() error {
		token, err := agentToken()
		if err != nil {
			return err
		}
		if url == "" {
			return errors.New("the control plane URL is needed: set DOKPLOY_AGENT_URL or --url")
		}
		dk, err := docker.New(docker.Options{})
		if err != nil {
			return err
		}
		defer dk.Close()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		push := &metrics.Pusher{URL: url, Token: token}
		if _, err := push.Settings(ctx); err != nil {
			return err // a wrong URL or token: say so at once
		}
		slog.Info("metrics agent started", "url", url)
		metrics.New(metrics.Options{Source: dk, Sink: push, Settings: push.Settings, ProcRoot: procRoot, Logger: slog.Default()}).Run(ctx)
		return nil
	})
}

// agentToken reads DOKPLOY_AGENT_TOKEN or the file DOKPLOY_AGENT_TOKEN_FILE
// names (a Docker secret).
func agentToken() (string, error) {
	if f := os.Getenv("DOKPLOY_AGENT_TOKEN_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t := os.Getenv("DOKPLOY_AGENT_TOKEN"); t != "" {
		return t, nil
	}
	return "", errors.New("an API token is needed: set DOKPLOY_AGENT_TOKEN or DOKPLOY_AGENT_TOKEN_FILE (dokploy token create)")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
