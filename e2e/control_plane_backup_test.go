package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/objstore"
)

type cpRunJSON struct {
	ID                int64  `json:"id"`
	Status            string `json:"status"`
	Error             string `json:"error"`
	ObjectKey         string `json:"object_key"`
	SizeBytes         int64  `json:"size_bytes"`
	SHA256            string `json:"sha256"`
	SecretKeyIncluded bool   `json:"secret_key_included"`
	Tables            int    `json:"tables"`
	Rows              int64  `json:"rows"`
	Files             int    `json:"files"`
}

// TestControlPlaneBackup_RestoreOnFreshMachine backs a panel up to MinIO
// through the API, restores it with `dokploy restore` into a fresh
// database and data directory, and serves it from there with the key the
// backup carried.
func TestControlPlaneBackup_RestoreOnFreshMachine(t *testing.T) {
	dbtest.Integration(t)
	ctx := context.Background()
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	projects := []string{"cp-shop-" + srvRandomHex(3), "cp-blog-" + srvRandomHex(3)}
	for _, name := range projects {
		c.mustAPI(t, "POST", "/api/v1/projects", map[string]any{"name": name}, http.StatusCreated, nil)
	}
	m := testkit.StartMinIO(t)
	bucket, prefix := m.Bucket(t), "cp-"+srvRandomHex(3)
	var dest struct {
		ID int64 `json:"id"`
	}
	c.mustAPI(t, "POST", "/api/v1/destinations", map[string]any{"name": "minio", "endpoint": m.Endpoint, "bucket": bucket, "prefix": prefix,
		"access_key": m.AccessKey, "secret_key": m.SecretKey, "path_style": true}, http.StatusCreated, &dest)
	const passphrase = "a long passphrase kept offline"
	var settings struct {
		PassphraseSet bool `json:"passphrase_set"`
	}
	c.mustAPI(t, "PUT", "/api/v1/control-plane/backup-settings", map[string]any{"destination_id": dest.ID, "keep_last": 3, "passphrase": passphrase},
		http.StatusOK, &settings)
	if !settings.PassphraseSet {
		t.Fatal("passphrase_set is false after setting one")
	}
	if _, b, _ := c.api("GET", "/api/v1/control-plane/backup-settings", nil); bytes.Contains(b, []byte(passphrase)) {
		t.Fatalf("the settings show the passphrase: %s", b)
	}

	start := time.Now()
	var run cpRunJSON
	c.mustAPI(t, "POST", "/api/v1/control-plane/backup", nil, http.StatusAccepted, &run)
	if code, b, _ := c.api("POST", "/api/v1/control-plane/backup", nil); code != http.StatusConflict && code != http.StatusAccepted {
		t.Errorf("a second backup while one runs: %d %s", code, b)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var page struct {
			Items []cpRunJSON `json:"items"`
		}
		c.mustAPI(t, "GET", "/api/v1/control-plane/backups", nil, http.StatusOK, &page)
		for _, r := range page.Items {
			if r.ID == run.ID {
				run = r
			}
		}
		if run.Status == "done" || run.Status == "error" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backup is still %s after 60s", run.Status)
		}
	}
	if run.Status != "done" || !run.SecretKeyIncluded || run.Rows == 0 {
		t.Fatalf("backup run: %+v", run)
	}
	t.Logf("backup done in %s: %s, %d bytes, %d tables, %d rows, %d files, sha256 %s",
		time.Since(start).Round(time.Millisecond), run.ObjectKey, run.SizeBytes, run.Tables, run.Rows, run.Files, run.SHA256)
	if !regexp.MustCompile(`^control-plane/dokploy-\d{8}T\d{6}Z-\d+\.tar\.gz$`).MatchString(run.ObjectKey) {
		t.Errorf("object key %q", run.ObjectKey)
	}

	// The object and its sidecar are in the bucket and agree.
	st, err := objstore.Open(objstore.Config{Endpoint: m.Endpoint, Bucket: bucket, Prefix: prefix, AccessKey: m.AccessKey, SecretKey: m.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := st.Get(ctx, run.ObjectKey)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, obj)
	obj.Close()
	if err != nil || hex.EncodeToString(h.Sum(nil)) != run.SHA256 || n != run.SizeBytes {
		t.Fatalf("object: %d bytes sha256 %x (%v), run says %d %s", n, h.Sum(nil), err, run.SizeBytes, run.SHA256)
	}
	sideRC, err := st.Get(ctx, run.ObjectKey+".json")
	if err != nil {
		t.Fatal(err)
	}
	var side struct {
		SHA256    string `json:"sha256"`
		SizeBytes int64  `json:"size_bytes"`
		Manifest  struct {
			SecretKeyIncluded bool `json:"secret_key_included"`
		} `json:"manifest"`
	}
	err = json.NewDecoder(sideRC).Decode(&side)
	sideRC.Close()
	if err != nil || side.SHA256 != run.SHA256 || side.SizeBytes != run.SizeBytes || !side.Manifest.SecretKeyIncluded {
		t.Fatalf("sidecar %+v (%v), run %+v", side, err, run)
	}

	// A fresh machine: an empty database and data directory, no key.
	freshDB, freshDir := dbtest.NewDatabaseURL(t), t.TempDir()
	from := fmt.Sprintf("s3://%s/%s/%s", bucket, prefix, run.ObjectKey)
	restore := func(pass string) (int, string) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, c.bin, "restore", "--from", from, "--endpoint", m.Endpoint, "--access-key", m.AccessKey)
		cmd.Env = freshEnv(c, freshDB, freshDir, "DOKPLOY_RESTORE_S3_SECRET_KEY="+m.SecretKey, "DOKPLOY_RESTORE_PASSPHRASE="+pass)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := restore("not the passphrase")
	if code == 0 || !strings.Contains(out, "passphrase is wrong") {
		t.Fatalf("restore with a wrong passphrase: exit %d\n%s", code, out)
	}
	t.Logf("wrong passphrase: exit %d: %s", code, strings.TrimSpace(out))
	fresh := openDB(t, freshDB)
	var tables int
	if err := fresh.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("the fresh database has %d tables after a refused restore (%v)", tables, err)
	}
	if _, err := os.Stat(filepath.Join(freshDir, "secret.key")); !os.IsNotExist(err) {
		t.Fatalf("secret.key written by a refused restore: %v", err)
	}

	start = time.Now()
	code, out = restore(passphrase)
	if code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	t.Logf("restore took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, want := range []string{"Restored into", "Secret key written", "Next: dokploy serve"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q", want)
		}
	}
	if info, err := os.Stat(filepath.Join(freshDir, "secret.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key: %v %v", info, err)
	}
	// Restoring again is refused: the database is no longer empty.
	if code, out := restore(passphrase); code == 0 || !strings.Contains(out, "not empty") {
		t.Errorf("second restore: exit %d\n%s", code, out)
	}

	// The restored panel, started without DOKPLOY_SECRET_KEY.
	c2 := resNewCluster(t, freshDB, dbtest.RedisURL())
	c2.env = withoutEnv(c2.env, "DOKPLOY_SECRET_KEY", "DOKPLOY_DATA_DIR")
	c2.env = append(c2.env, "DOKPLOY_DATA_DIR="+freshDir)
	c2.serve(t, "restored")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 15 * time.Second}
	signIn(t, browser, c2.URL, resAdminEmail, resAdminPassword)
	resp, err := browser.Get(c2.URL + "/api/v1/projects")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range projects {
		if !strings.Contains(string(body), `"`+name+`"`) {
			t.Errorf("project %s missing after restore: %d %s", name, resp.StatusCode, body)
		}
	}
	// The API token and the destination's sealed secret work: the key is the old one.
	c2.token = c.token
	var test struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	c2.mustAPI(t, "POST", fmt.Sprintf("/api/v1/destinations/%d/test", dest.ID), nil, http.StatusOK, &test)
	if !test.OK {
		t.Errorf("destination test on the restored panel: %+v", test)
	}
	var runs struct {
		Items []cpRunJSON `json:"items"`
	}
	c2.mustAPI(t, "GET", "/api/v1/control-plane/backups", nil, http.StatusOK, &runs)
	if len(runs.Items) == 0 || runs.Items[0].ID != run.ID || runs.Items[0].Status != "done" || runs.Items[0].SHA256 != run.SHA256 {
		t.Errorf("the restored panel's record of the backup it came from: %+v", runs.Items)
	}
	// New rows get fresh ids.
	c2.mustAPI(t, "POST", "/api/v1/projects", map[string]any{"name": "after-restore"}, http.StatusCreated, nil)
}

// freshEnv is the cluster's environment for another machine: its own
// database and data directory, and no secret key.
func freshEnv(c *resCluster, dbURL, dataDir string, extra ...string) []string {
	env := withoutEnv(c.environ(), "DOKPLOY_SECRET_KEY", "DOKPLOY_DATA_DIR", "DOKPLOY_DATABASE_URL")
	env = append(env, "DOKPLOY_DATABASE_URL="+dbURL, "DOKPLOY_DATA_DIR="+dataDir)
	return append(env, extra...)
}

func withoutEnv(env []string, names ...string) []string {
	out := []string{}
	for _, kv := range env {
		keep := true
		for _, n := range names {
			keep = keep && !strings.HasPrefix(kv, n+"=")
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// signIn posts the sign-in form with its CSRF token.
func signIn(t *testing.T, client *http.Client, base, email, password string) {
	t.Helper()
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	defer func() { client.CheckRedirect = nil }()
	resp, err = client.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("sign in as %s: %d %s", email, resp.StatusCode, body)
	}
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
