package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"dokploy/db"
	"dokploy/jobs/cpbackup"
	"dokploy/jobs/objstore"
)

// restoreOptions are the flags of `dokploy restore`.
type restoreOptions struct {
	from, endpoint, accessKey, region string
	pathStyle                         bool
}

func defineRestoreFlags(o *restoreOptions) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(&o.from, "from", "", "the backup: s3://BUCKET/KEY (the object key with the destination's prefix) or a local .tar.gz file")
		fs.StringVar(&o.endpoint, "endpoint", "", "S3 endpoint URL for s3:// (e.g. https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000)")
		fs.StringVar(&o.accessKey, "access-key", "", "S3 access key for s3:// (the secret key is read from DOKPLOY_RESTORE_S3_SECRET_KEY, never from the command line)")
		fs.StringVar(&o.region, "region", "", "S3 region (optional)")
		fs.BoolVar(&o.pathStyle, "path-style", true, "path-style S3 addressing (MinIO and most self-hosted S3); false for virtual-host style")
	}
}

const restoreHelp = `Restores a control-plane backup into an empty database (DOKPLOY_DATABASE_URL)
and the data directory (DOKPLOY_DATA_DIR), e.g. on a fresh machine:

  export DOKPLOY_RESTORE_S3_SECRET_KEY=...   # the bucket's secret key
  export DOKPLOY_RESTORE_PASSPHRASE=...      # when the backup carries the secret key
  dokploy restore --from s3://my-bucket/dokploy/control-plane/dokploy-20260102T030000Z.tar.gz \
      --endpoint https://s3.eu-west-1.amazonaws.com --access-key AKIA...

The archive's sha256 is checked against its .json sidecar before anything is
written. Without DOKPLOY_RESTORE_PASSPHRASE the passphrase is asked for on a
terminal. Then start the panel with: dokploy serve
`

func restoreCmd(cfg config, args []string, stdin io.Reader, stdout io.Writer) error {
	var o restoreOptions
	return withFlagsHelp(stdout, args, "restore", restoreHelp, defineRestoreFlags(&o), func() error {
		if o.from == "" {
			return errors.New("--from is required: dokploy restore --from s3://BUCKET/KEY --endpoint URL --access-key KEY (see dokploy restore --help)")
		}
		if err := cfg.validate(); err != nil {
			return fmt.Errorf("invalid configuration:\n%w", err)
		}
		return runRestore(context.Background(), cfg, o, stdin, stdout)
	})
}

func runRestore(ctx context.Context, cfg config, o restoreOptions, stdin io.Reader, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	archive, side, err := fetchBackup(ctx, cfg.DataDir, o, stdout)
	if err != nil {
		return err
	}
	defer archive.Close()
	if strings.HasPrefix(filepath.Base(archive.Name()), ".restore-download-") {
		defer os.Remove(archive.Name())
	}
	m, err := cpbackup.ReadManifest(archive)
	if err != nil {
		return err
	}
	if _, err := archive.Seek(0, io.SeekStart); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backup of %s by dokploy %s (schema version %d): %d tables, %d rows, %d files; secret key included: %v\n",
		m.CreatedAt.Format(time.RFC3339), m.Version, m.MigrationVersion, len(m.Tables), m.Rows(), m.Files, m.SecretKeyIncluded)
	passphrase := os.Getenv("DOKPLOY_RESTORE_PASSPHRASE")
	if m.SecretKeyIncluded && passphrase == "" {
		if passphrase, err = askPassphrase(stdin); err != nil {
			return err
		}
	}
	expected, err := configuredKey(cfg)
	if err != nil {
		return err
	}
	checkKey := func(key string, m cpbackup.Manifest) error {
		switch {
		case expected == "":
			return nil
		case key != "" && currentKey(key) != currentKey(expected):
			return errors.New("DOKPLOY_SECRET_KEY (or DOKPLOY_SECRET_KEY_FILE) is set but differs from the secret key in this backup: unset it to use the backup's key, or set it to the old key. Nothing was restored")
		case !cpbackup.KeyMatches(m, expected):
			return errors.New("DOKPLOY_SECRET_KEY (or DOKPLOY_SECRET_KEY_FILE) is not the key this backup's secrets were sealed with: set it to the old panel's key. Nothing was restored")
		}
		return nil
	}
	conn, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	target := cpbackup.Target{DB: conn, DataDir: cfg.DataDir, Passphrase: passphrase, CheckKey: checkKey}
	if side != nil {
		target.Artifact = &cpbackup.Artifact{ObjectKey: side.Object, SizeBytes: side.SizeBytes, SHA256: side.SHA256}
	}
	res, err := cpbackup.Restore(ctx, archive, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restored into %s: %d tables, %d rows; %d files into %s\n", db.RedactURL(cfg.DatabaseURL), res.Tables, res.Rows, res.Files, cfg.DataDir)
	switch {
	case res.SecretKey != "" && expected == "":
		path := filepath.Join(cfg.DataDir, "secret.key")
		if err := writeSecretKey(path, res.SecretKey); err != nil {
			return fmt.Errorf("the panel is restored but its secret key could not be written to %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "Secret key written to %s (mode 0600).\n", path)
	case res.SecretKey != "":
		fmt.Fprintln(stdout, "The configured DOKPLOY_SECRET_KEY matches the backup's key.")
	case expected == "":
		fmt.Fprintln(stdout, "This backup does not carry the secret key: set DOKPLOY_SECRET_KEY to the old panel's key before starting, or its stored secrets (env values, tokens, passwords) cannot be decrypted.")
	}
	fmt.Fprintln(stdout, "Next: dokploy serve")
	return nil
}

// fetchBackup opens the archive and checks it against its sidecar: an
// s3:// object is downloaded into the data directory first, so nothing is
// restored from an archive whose sha256 does not match.
func fetchBackup(ctx context.Context, dataDir string, o restoreOptions, stdout io.Writer) (*os.File, *cpbackup.Sidecar, error) {
	if !strings.HasPrefix(o.from, "s3://") {
		if strings.Contains(o.from, "://") {
			return nil, nil, fmt.Errorf("--from %q: use s3://BUCKET/KEY or a local file", o.from)
		}
		f, err := os.Open(o.from)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, nil, fmt.Errorf("--from %s: no such file. On a fresh machine the destination is in no database yet: use --from s3://BUCKET/KEY with --endpoint and --access-key", o.from)
			}
			return nil, nil, err
		}
		side, err := localSidecar(o.from)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if side == nil {
			fmt.Fprintf(stdout, "Warning: %s has no sidecar %s.json: its checksum cannot be checked\n", o.from, o.from)
			return f, nil, nil
		}
		if err := checkSum(f, side); err != nil {
			f.Close()
			return nil, nil, err
		}
		return f, side, nil
	}
	u, err := url.Parse(o.from)
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, nil, fmt.Errorf("--from %q must be s3://BUCKET/KEY", o.from)
	}
	key := strings.TrimPrefix(u.Path, "/")
	if o.endpoint == "" || o.accessKey == "" {
		return nil, nil, errors.New("--from s3://… needs --endpoint and --access-key (and the secret key in DOKPLOY_RESTORE_S3_SECRET_KEY)")
	}
	secret := os.Getenv("DOKPLOY_RESTORE_S3_SECRET_KEY")
	if secret == "" {
		return nil, nil, errors.New("set DOKPLOY_RESTORE_S3_SECRET_KEY to the bucket's secret key (it is never taken from the command line)")
	}
	st, err := objstore.Open(objstore.Config{Endpoint: o.endpoint, Region: o.region, Bucket: u.Host, AccessKey: o.accessKey, SecretKey: secret, PathStyle: o.pathStyle})
	if err != nil {
		return nil, nil, err
	}
	rc, err := st.Get(ctx, cpbackup.SidecarKey(key))
	if err != nil {
		return nil, nil, fmt.Errorf("read the sidecar %s: %w", cpbackup.SidecarKey(key), err)
	}
	var side cpbackup.Sidecar
	err = json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&side)
	rc.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("the sidecar %s is not valid: %w", cpbackup.SidecarKey(key), err)
	}
	f, err := os.CreateTemp(dataDir, ".restore-download-")
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, *cpbackup.Sidecar, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, nil, err
	}
	obj, err := st.Get(ctx, key)
	if err != nil {
		return fail(err)
	}
	n, err := io.Copy(f, obj)
	obj.Close()
	if err != nil {
		return fail(fmt.Errorf("download %s: %w", key, err))
	}
	fmt.Fprintf(stdout, "Downloaded s3://%s/%s (%d bytes)\n", u.Host, key, n)
	if err := checkSum(f, &side); err != nil {
		return fail(err)
	}
	return f, &side, nil
}

func localSidecar(path string) (*cpbackup.Sidecar, error) {
	b, err := os.ReadFile(path + ".json")
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var side cpbackup.Sidecar
	if err := json.Unmarshal(b, &side); err != nil {
		return nil, fmt.Errorf("the sidecar %s.json is not valid: %w", path, err)
	}
	return &side, nil
}

// checkSum hashes f from its start and leaves it at its start.
func checkSum(f *os.File, side *cpbackup.Sidecar) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != side.SHA256 || n != side.SizeBytes {
		return fmt.Errorf("the archive does not match its sidecar (sha256 %s, %d bytes; the sidecar says %s, %d bytes): it is damaged or incomplete. Nothing was restored", got, n, side.SHA256, side.SizeBytes)
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

func askPassphrase(stdin io.Reader) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", cpbackup.ErrPassphraseRequired
	}
	fmt.Fprint(os.Stderr, "Passphrase of the backup: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", cpbackup.ErrPassphraseRequired
	}
	return string(b), nil
}

// configuredKey is the secret key the operator set, or "" when the key
// would come from <data dir>/secret.key.
func configuredKey(cfg config) (string, error) {
	if cfg.SecretKey != "" {
		return cfg.SecretKey, nil
	}
	if cfg.SecretKeyFile != "" {
		b, err := os.ReadFile(cfg.SecretKeyFile)
		if err != nil {
			return "", fmt.Errorf("read DOKPLOY_SECRET_KEY_FILE: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// currentKey is the first key of a key ring (one key per line).
func currentKey(ring string) string {
	keys := db.ParseKeys([]byte(ring))
	if len(keys) == 0 {
		return ""
	}
	return string(keys[0])
}

// writeSecretKey writes the key ring beside and renames it, mode 0600.
func writeSecretKey(path, ring string) error {
	return db.WriteKeyFile(path, db.ParseKeys([]byte(ring)))
}

const backupHelp = `Writes a control-plane backup archive (the same as the panel's "Back up now")
to a file, or to standard output with --to -. The secret key is included,
sealed, only when DOKPLOY_BACKUP_PASSPHRASE is set. A file also gets its
.json sidecar (size, sha256, manifest), which dokploy restore checks.
`

func backupCmd(cfg config, args []string, stdout io.Writer) error {
	var to string
	return withFlagsHelp(stdout, args, "backup", backupHelp, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "file to write, or - for standard output")
	}, func() error {
		if to == "" {
			return errors.New("--to is required: dokploy backup --to FILE (or --to - for standard output)")
		}
		ctx := context.Background()
		_, conn, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		ring, err := cfg.secretRing()
		if err != nil {
			return err
		}
		src := cpbackup.Source{DB: conn, DataDir: cfg.DataDir, SecretKey: ring, SecretKeyFile: cfg.keyFile(), Passphrase: os.Getenv("DOKPLOY_BACKUP_PASSPHRASE"), Version: version}
		if to == "-" {
			_, err := cpbackup.Write(ctx, stdout, src)
			return err
		}
		return backupToFile(ctx, to, src)
	})
}

func backupToFile(ctx context.Context, to string, src cpbackup.Source) error {
	started := time.Now().UTC()
	tmp := to + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	m, err := cpbackup.Write(ctx, cw, src)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	side, _ := json.MarshalIndent(cpbackup.Sidecar{Object: filepath.Base(to), SizeBytes: cw.n, SHA256: hex.EncodeToString(h.Sum(nil)),
		StartedAt: started, FinishedAt: time.Now().UTC(), Manifest: m}, "", "  ")
	if err := os.WriteFile(to+".json", side, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Wrote %s (%d bytes): %d tables, %d rows, %d files; secret key included: %v\n", to, cw.n, len(m.Tables), m.Rows(), m.Files, m.SecretKeyIncluded)
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// withFlagsHelp is withFlags with a description above the flags.
func withFlagsHelp(out io.Writer, args []string, name, help string, define func(*flag.FlagSet), fn func() error) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintln(out, help)
			break
		}
	}
	return withFlags(out, args, name, define, fn)
}
