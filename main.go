// Command dokploy is a self-hosted PaaS: it deploys apps from git or images
// as Docker Swarm services, routes domains through Traefik and redeploys on
// every push. main only wires the parts together.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones of backup schedules, also in a FROM scratch image

	"github.com/jmoiron/sqlx"
	"golang.org/x/term"

	"dokploy/db"
	"dokploy/handlers"
	"dokploy/jobs"
	"dokploy/jobs/alerts"
	"dokploy/jobs/cpbackup"
	"dokploy/jobs/docker"
	"dokploy/jobs/engines"
	"dokploy/jobs/git"
	"dokploy/jobs/metrics"
	"dokploy/jobs/notify"
	"dokploy/jobs/objstore"
	"dokploy/jobs/ops"
	"dokploy/jobs/routing"
	"dokploy/jobs/voltar"
	"dokploy/traefik"
	"dokploy/views"
)

const usage = `dokploy — a self-hosted PaaS

Usage:
  dokploy serve                         run the dashboard, API and deploy worker
  dokploy worker                        run only the deploy worker
  dokploy migrate up|down|status        manage the database schema
  dokploy admin create --email E        create an admin (password read from stdin)
  dokploy admin reset-password --email E
  dokploy admin disable-2fa --email E   turn off a locked-out user's two-factor sign-in
  dokploy token create --email E --name N   print a new API token once
  dokploy backup --to FILE|-            write a control-plane backup archive
  dokploy secret-key id                 print the id of the current secret key
  dokploy secret-key rotate             re-encrypt every stored secret under a new key
  dokploy restore --from s3://BUCKET/KEY --endpoint URL --access-key KEY
                                        restore a control-plane backup into an empty database
  dokploy agent --url URL               sample this node's metrics and push them to the control plane
                                        (token in DOKPLOY_AGENT_TOKEN or DOKPLOY_AGENT_TOKEN_FILE)
  dokploy version

`

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command; the streams are parameters so tests can drive it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		printEnvHelp(stdout)
		return 0
	}
	if args[0] == "probe" {
		return probe(args[1:], stderr)
	}
	if args[0] == "probe-db" {
		return probeDB(args[1:], stderr)
	}
	if args[0] == "volume-tar" || args[0] == "volume-untar" {
		return volumeTar(args[0], args[1:], stdin, stdout, stderr)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	cfg := loadConfig()
	var err error
	switch args[0] {
	case "serve":
		err = withFlags(stdout, args[1:], "serve", func(*flag.FlagSet) {}, func() error { return serve(cfg, true) })
	case "worker":
		err = withFlags(stdout, args[1:], "worker", func(*flag.FlagSet) {}, func() error { return serve(cfg, false) })
	case "migrate":
		err = migrateCmd(cfg, args[1:])
	case "admin":
		err = adminCmd(cfg, args[1:], stdin, stdout)
	case "token":
		err = tokenCmd(cfg, args[1:], stdout)
	case "backup":
		err = backupCmd(cfg, args[1:], stdout)
	case "restore":
		err = restoreCmd(cfg, args[1:], stdin, stdout)
	case "secret-key":
		err = secretKeyCmd(cfg, args[1:], stdout)
	case "agent":
		err = agentCmd(args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "dokploy", version)
	case "probe":
		// Runs inside app containers as their HTTP health check.
		return probe(args[1:], stderr)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

// withFlags parses a subcommand's flags; --help prints them and the environment.
func withFlags(out io.Writer, args []string, name string, define func(*flag.FlagSet), fn func() error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	define(fs)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: dokploy %s [flags]\n\n", name)
		fs.PrintDefaults()
		fmt.Fprintln(out)
		printEnvHelp(out)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return fn()
}

// openStore validates config, connects and migrates.
func openStore(ctx context.Context, cfg config) (*db.Store, *sqlx.DB, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	cipher, err := cfg.cipher()
	if err != nil {
		return nil, nil, err
	}
	conn, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(ctx, conn); err != nil {
		conn.Close()
		return nil, nil, err
	}
	store := db.NewStore(conn, cipher)
	if err := checkSecretKey(ctx, cfg, store); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return store, conn, nil
}

// checkSecretKey stops a start whose key cannot open the database's
// secrets, with what to do, rather than serving pages that fail on them.
func checkSecretKey(ctx context.Context, cfg config, store *db.Store) error {
	err := store.CheckSecretKey(ctx)
	var mismatch *db.KeyMismatchError
	if !errors.As(err, &mismatch) {
		return err
	}
	return fmt.Errorf("%s does not match the key that encrypted this database (key id %s, database has values under %s, found in %s): "+
		"restore the old key (in %s, or as DOKPLOY_SECRET_KEY) and start again; `dokploy restore` writes it back from a backup made with a passphrase. "+
		"Nothing was changed", cfg.keySource(), strings.Join(mismatch.KeyIDs, ", "), mismatch.Sealed(), mismatch.What, keyFileOrDefault(cfg))
}

// keyFileOrDefault is where the key file is or would be.
func keyFileOrDefault(cfg config) string {
	if f := cfg.keyFile(); f != "" {
		return f
	}
	return filepath.Join(cfg.DataDir, "secret.key")
}

func serve(cfg config, web bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	// Parsing the templates (~40 ms) and checking the probe copy (~10 ms)
	// need no database: they run beside its connect and migration check.
	parseViews := async(views.New)
	probeCopy := async(cfg.probeBinary)

	store, conn, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	redisPool, err := jobs.OpenRedis(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	defer redisPool.Close()
	guard := cfg.networkGuard()
	git.SetGuard(guard)
	objstore.SetGuard(guard)
	dk, err := docker.New(docker.Options{EndpointMode: cfg.EndpointMode, Guard: guard})
	if err != nil {
		return err
	}
	probe, err := probeCopy()
	if err != nil {
		slog.Warn("HTTP health checks unavailable: cannot install the probe binary", "err", err)
	}
	notifier := notify.New(store, guard, notify.WithPublicURL(cfg.PublicURL), notify.WithLogger(slog.Default()))
	runner := jobs.NewRunner(jobs.Options{Store: store, Redis: redisPool, Docker: dk, Logger: slog.Default(), Namespace: cfg.Namespace, ProbeBinary: probe,
		Notifier: notifier})
	// The worker, the metrics collector and the alert evaluator start
	// their loops at once and compete for the CPUs; a web server starts
	// them once it is listening, so they do not delay its first answer.
	startWorker := func() error {
		if err := runner.StartWorker(ctx); err != nil {
			return err
		}
		// The in-process collector covers this node (see jobs/metrics).
		collector := metrics.New(metrics.Options{Source: dk, Sink: store, Store: store, Settings: store.MetricsSettings, Logger: slog.Default()})
		go collector.Run(ctx)
		go alerts.New(alerts.Options{Store: store, Notifier: notifier, Logger: slog.Default()}).Run(ctx) // see jobs/alerts
		return nil
	}
	if !web {
		if err := startWorker(); err != nil {
			return err
		}
		defer runner.StopWorker()
		slog.Info("worker started")
		<-ctx.Done()
		return nil
	}

	renderer, err := parseViews()
	if err != nil {
		return err
	}
	routing, err := startRouting(ctx, cfg, store, dk)
	if err != nil {
		return err
	}
	go routing.RunCertificateChecks(ctx, notifier) // certificate.expiring and certificate.failed
	ring, err := cfg.secretRing()
	if err != nil {
		return err
	}
	cpBackup := cpbackup.New(cpbackup.Options{Store: store, DB: conn, DataDir: cfg.DataDir, SecretKey: ring, SecretKeyFile: cfg.keyFile(),
		Version: version, Logger: slog.Default()})
	cpBackup.Start(ctx)
	defer func() { stop(); cpBackup.Wait() }() // a backup in progress ends (failed) with ctx
	proxies, _ := cfg.trustedProxies()         // validated at start
	csrfKey, err := cfg.derivedKey("dokploy csrf")
	if err != nil {
		return err
	}
	h := handlers.New(handlers.Options{PublicURL: cfg.PublicURL, Version: version, ReservedPorts: cfg.reservedPorts(),
		TrustedProxies: proxies, ProxyAddrs: routing.ProxyAddrs, CSRFKey: csrfKey}, store, renderer, runner,
		handlers.WithRouting(routing), handlers.WithControlPlaneBackup(cpBackup))
	if err := h.PrepareSetup(ctx); err != nil {
		return err
	}
	// WriteTimeout stays 0 so log streams are not cut; every other response
	// gets a 2-minute write deadline from WithWriteDeadline.
	srv := &http.Server{
		Addr: cfg.Addr, Handler: handlers.WithWriteDeadline(h.Router(), 2*time.Minute),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("dokploy is up", "url", cfg.PublicURL, "addr", cfg.Addr, "startup", time.Since(started).Round(time.Millisecond))
	if cfg.RunWorker {
		// The loops start a moment after the listener: starting, they
		// take PostgreSQL and Redis connections and both CPUs at once
		// (16 job fetchers, the heartbeat, recovery, the first metrics
		// sample), and the first requests, a health check or a page
		// reloaded after the restart, waited 20–90 ms behind them for a
		// connection. Queued deployments start that much later.
		// A stop that comes before the delay ends is an ordinary
		// shutdown: the worker is not started with the cancelled context
		// (whose error would make the exit look like a failure).
		select {
		case <-time.After(loopStartDelay):
			if err := startWorker(); err != nil {
				_ = srv.Close()
				return err
			}
			defer runner.StopWorker()
		case <-ctx.Done():
		}
	}
	if link := h.SetupLink(); link != "" {
		fmt.Printf("\n  No admin exists yet. Create one here (the link works once):\n\n    %s\n\n", link)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	h.CloseTerminals(shutdownCtx) // WebSockets are not waited for by Shutdown
	return err
}

// loopStartDelay is how long after listening the worker and the other
// background loops start (serve).
const loopStartDelay = 250 * time.Millisecond

// async runs f in a goroutine; the function it returns waits for f's
// result.
func async[T any](f func() (T, error)) func() (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	return func() (T, error) {
		r := <-done
		return r.v, r.err
	}
}

// startRouting prepares Traefik: its static configuration (written when
// missing), its container (unless DOKPLOY_TRAEFIK=off) and the dynamic
// directory, reconciled with the database. A Traefik that fails to start
// is logged, not fatal: the dashboard stays usable and shows the problem.
func startRouting(ctx context.Context, cfg config, store *db.Store, dk *docker.Docker) (*routing.Service, error) {
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || port == "" {
		port = "3000"
	}
	apiPort, err := cfg.traefikAPIPort()
	if err != nil {
		return nil, err
	}
	opts := routing.Options{
		Store:       store,
		ConfigDir:   filepath.Join(cfg.DataDir, "traefik"),
		TraefikPath: docker.TraefikConfigPath,
		// Traefik runs in a container; the dashboard listens on the host.
		DashboardUpstream: "http://host.docker.internal:" + port,
		Logger:            slog.Default(),
	}
	apiKey, err := cfg.derivedKey("dokploy traefik api")
	if err != nil {
		return nil, err
	}
	opts.APIPassword = hex.EncodeToString(apiKey)
	spec := docker.TraefikSpec{Image: cfg.TraefikImage, ConfigDir: opts.ConfigDir,
		HTTPPort: cfg.TraefikHTTPPort, HTTPSPort: cfg.TraefikHTTPSPort, APIPort: apiPort}
	logf := func(line string) { slog.Info(line, "component", "traefik") }
	if cfg.Traefik == "on" {
		opts.API = &traefik.Client{BaseURL: cfg.TraefikAPIURL, HTTP: &http.Client{Timeout: 5 * time.Second},
			Username: traefik.APIUser, Password: opts.APIPassword}
		opts.Traefik = dk.Traefik(spec, logf)
		opts.Listen = fmt.Sprintf("http :%d, https :%d, API %s (loopback only)", cfg.TraefikHTTPPort, cfg.TraefikHTTPSPort, cfg.TraefikAPIURL)
	}
	svc, err := routing.New(opts)
	if err != nil {
		return nil, err
	}
	// Rendered on every start so an upgrade's static changes (such as the
	// API losing its open router) apply; Traefik restarts only on a change.
	hash, err := svc.WriteStaticConfig(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("traefik static config: %w", err)
	}
	if cfg.Traefik == "on" {
		if err := svc.RestartTraefik(ctx, hash); err != nil {
			slog.Error("Traefik is not running: domains will not be served until this is fixed", "err", err)
		} else {
			slog.Info("traefik is up", "container", docker.TraefikContainer, "listen", opts.Listen, "config", opts.ConfigDir)
		}
	} else {
		slog.Warn("Traefik is off (DOKPLOY_TRAEFIK=off): domain files are written but nothing serves them", "dir", svc.DynamicDir())
	}
	rep, err := svc.Sync(ctx)
	if err != nil {
		slog.Error("routing reconcile at start failed; the other apps were applied", "err", err)
	}
	slog.Info("routing reconciled", "written", len(rep.Written), "unchanged", len(rep.Unchanged), "removed", rep.Removed, "foreign", rep.Foreign)
	return svc, nil
}

func migrateCmd(cfg config, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: dokploy migrate up|down|status")
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	ctx := context.Background()
	conn, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	switch args[0] {
	case "up":
		return db.Migrate(ctx, conn)
	case "down":
		return db.MigrateDown(ctx, conn)
	case "status":
		lines, err := db.MigrationStatus(ctx, conn)
		for _, l := range lines {
			fmt.Println(l)
		}
		return err
	}
	return fmt.Errorf("unknown migrate command %q (want up, down or status)", args[0])
}

func adminCmd(cfg config, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "disable-2fa" {
		return disableTwoFactorCmd(cfg, args[1:], stdout)
	}
	if len(args) == 0 || (args[0] != "create" && args[0] != "reset-password") {
		return errors.New("usage: dokploy admin create|reset-password --email E (password on stdin), or dokploy admin disable-2fa --email E")
	}
	var email string
	return withFlags(stdout, args[1:], "admin "+args[0], func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "admin email address")
	}, func() error {
		if email == "" {
			return errors.New("--email is required, e.g. dokploy admin " + args[0] + " --email you@example.com")
		}
		if err := ops.ValidateEmail(email); err != nil {
			return err
		}
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		hash, err := db.HashPassword(password)
		if err != nil {
			return err
		}
		ctx := context.Background()
		store, conn, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		if args[0] == "create" {
			u, err := store.CreateUser(ctx, email, hash, db.RoleOwner)
			if err != nil {
				return err
			}
			auditCLI(ctx, store, "user.create", &u.ID, "admin create "+email)
			fmt.Fprintln(stdout, "created admin", email)
			return nil
		}
		u, err := store.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("no user with email %s", email)
		}
		if err := store.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		auditCLI(ctx, store, "user.password.reset", &u.ID, "admin reset-password "+email)
		fmt.Fprintln(stdout, "password changed for", email, "and all their sessions ended")
		return nil
	})
}

// disableTwoFactorCmd turns a locked-out user's two-factor sign-in off at
// the console (their password still applies).
func disableTwoFactorCmd(cfg config, args []string, stdout io.Writer) error {
	var email string
	return withFlags(stdout, args, "admin disable-2fa", func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the user's email address")
	}, func() error {
		if email == "" {
			return errors.New("--email is required, e.g. dokploy admin disable-2fa --email you@example.com")
		}
		ctx := context.Background()
		store, conn, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := ops.New(store, nil, nil).ResetTwoFactor(ctx, email); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return fmt.Errorf("no user with email %s", email)
			}
			return err
		}
		var uid *int64
		if u, err := store.UserByEmail(ctx, email); err == nil {
			uid = &u.ID
		}
		auditCLI(ctx, store, "user.two_factor.disable", uid, "admin disable-2fa "+email)
		fmt.Fprintln(stdout, "two-factor sign-in turned off for", email, "(their password still applies; they can set it up again on the Account page)")
		return nil
	})
}

// readPassword reads the password from stdin: typed without echo and
// confirmed on a terminal, or the first line of piped input.
func readPassword(r io.Reader) (string, error) {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) (string, error) {
			fmt.Fprint(os.Stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(b), err
		}
		password, err := ask("Password: ")
		if err != nil {
			return "", err
		}
		if err := db.ValidatePassword(password); err != nil {
			return "", err
		}
		again, err := ask("Repeat password: ")
		if err != nil {
			return "", err
		}
		if again != password {
			return "", errors.New("the passwords do not match")
		}
		return password, nil
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	password := strings.TrimRight(line, "\r\n")
	return password, db.ValidatePassword(password)
}

func tokenCmd(cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: dokploy token create --email E --name N")
	}
	var email, name string
	return withFlags(stdout, args[1:], "token create", func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "owner's email address")
		fs.StringVar(&name, "name", "", "a name to recognise the token by")
	}, func() error {
		if name == "" || len(name) > 100 {
			return errors.New("--name is required (at most 100 characters)")
		}
		ctx := context.Background()
		store, conn, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		u, err := store.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("no user with email %q", email)
		}
		_, token, err := store.CreateAPIToken(ctx, u.ID, name, db.TokenLimits{Scope: db.ScopeManage})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
		return nil
	})
}

// probeDB asks a database engine on 127.0.0.1:PORT whether it accepts
// connections: the health check of database containers, which get this
// static binary mounted read-only, so it works whatever the image ships.
func probeDB(args []string, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: dokploy probe-db ENGINE PORT")
		return 2
	}
	if _, err := strconv.Atoi(args[1]); err != nil {
		fmt.Fprintln(stderr, "port must be a number")
		return 2
	}
	if err := engines.Ready(context.Background(), args[0], net.JoinHostPort("127.0.0.1", args[1])); err != nil {
		fmt.Fprintf(stderr, "%s is not ready: %v\n", args[0], err)
		return 1
	}
	return 0
}

// volumeTar writes the tree under DIR to stdout as a tar stream
// (volume-tar), or empties DIR and extracts stdin into it (volume-untar):
// the two ends of a volume backup, run inside a helper container that has
// the volume at DIR and this static binary mounted.
func volumeTar(cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: dokploy %s DIR\n", cmd)
		return 2
	}
	var err error
	if cmd == "volume-tar" {
		w := bufio.NewWriterSize(stdout, 256<<10)
		err = voltar.Write(w, args[0], func(s string) { fmt.Fprintln(stderr, s) })
		if err == nil {
			err = w.Flush()
		}
	} else {
		err = voltar.Extract(bufio.NewReaderSize(stdin, 256<<10), args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// probe GETs url and exits 0 when the status matches: the HTTP health check
// of app containers, which get this static binary mounted read-only.
func probe(args []string, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: dokploy probe URL EXPECTED_STATUS")
		return 2
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		fmt.Fprintln(stderr, "expected status must be a number")
		return 2
	}
	client := http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "health check failed:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		fmt.Fprintf(stderr, "health check failed: %s answered %d, want %d\n", args[0], resp.StatusCode, want)
		return 1
	}
	return 0
}

// auditCLI records a change made at the console in the audit log, with
// the operating-system user who ran it. A failure to record is said on
// stderr; the change is done.
func auditCLI(ctx context.Context, store *db.Store, action string, userID *int64, detail string) {
	who := os.Getenv("SUDO_USER")
	if who == "" {
		who = os.Getenv("USER")
	}
	e := &db.AuditEvent{ActorType: db.ActorCLI, ActorEmail: who, Action: action, Resource: "user", ResourceID: userID,
		Route: "dokploy " + strings.Fields(detail)[0], Detail: detail}
	if userID == nil {
		e.Resource = "settings"
	}
	if err := store.RecordAuditEvent(ctx, e); err != nil {
		fmt.Fprintln(os.Stderr, "warning: not recorded in the audit log:", err)
	}
}
