package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/objstore"
)

type backupRunJSON struct {
	ID            int64   `json:"id"`
	OperationID   int64   `json:"operation_id"`
	Status        string  `json:"status"`
	Error         string  `json:"error"`
	Reason        string  `json:"reason"`
	ObjectKey     string  `json:"object_key"`
	SizeBytes     int64   `json:"size_bytes"`
	SHA256        string  `json:"sha256"`
	Format        string  `json:"format"`
	EngineVersion string  `json:"engine_version"`
	DeletedAt     *string `json:"deleted_at"`
	DrillOK       *bool   `json:"drill_ok"`
	DrillSummary  string  `json:"drill_summary"`
}

func (r backupRunJSON) finished() bool {
	return r.Status == "done" || r.Status == "error" || r.Status == "cancelled"
}

// backupFixture is a server with a MinIO destination.
type backupFixture struct {
	c       *resCluster
	minio   *testkit.MinIO
	bucket  string
	prefix  string
	destID  int64
	project int64
}

func newBackupFixture(t *testing.T, c *resCluster, endpoint string) *backupFixture {
	t.Helper()
	m := testkit.StartMinIO(t)
	f := &backupFixture{c: c, minio: m, bucket: m.Bucket(t), prefix: "e2e-" + srvRandomHex(3)}
	if endpoint == "" {
		endpoint = m.Endpoint
	}
	var dest struct {
		ID int64 `json:"id"`
	}
	c.mustAPI(t, "POST", "/api/v1/destinations", map[string]any{
		"name": "minio-" + srvRandomHex(3), "endpoint": endpoint, "bucket": f.bucket, "prefix": f.prefix,
		"access_key": m.AccessKey, "secret_key": m.SecretKey, "path_style": true,
	}, http.StatusCreated, &dest)
	f.destID = dest.ID
	f.project = c.newProject(t)
	return f
}

// store opens the bucket as the test sees it, under the destination's prefix.
func (f *backupFixture) store(t *testing.T) *objstore.Store {
	t.Helper()
	st, err := objstore.Open(objstore.Config{Endpoint: f.minio.Endpoint, Bucket: f.bucket, Prefix: f.prefix,
		AccessKey: f.minio.AccessKey, SecretKey: f.minio.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// objects lists the keys under prefix ("" for all): parallel subtests
// share the destination, each under its own prefix.
func (f *backupFixture) objects(t *testing.T, prefix string) []string {
	t.Helper()
	list, err := f.store(t).List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(list))
	for i, o := range list {
		keys[i] = o.Key
	}
	sort.Strings(keys)
	return keys
}

func (f *backupFixture) addPlan(t *testing.T, dbID int64, body map[string]any) int64 {
	t.Helper()
	body["destination_id"] = f.destID
	var plan struct {
		ID int64 `json:"id"`
	}
	f.c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/databases/%d/backups", dbID), body, http.StatusCreated, &plan)
	return plan.ID
}

func (c *resCluster) backupRun(t *testing.T, id int64) backupRunJSON {
	t.Helper()
	var run backupRunJSON
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/backup-runs/%d", id), nil, http.StatusOK, &run)
	return run
}

func (c *resCluster) waitBackupRun(t *testing.T, id int64, within time.Duration) backupRunJSON {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		run := c.backupRun(t, id)
		if run.finished() {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup run %d still %s after %s; log:\n%s", id, run.Status, within, c.logs(t, run.OperationID))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// backupNow presses "Back up now" and waits for the run; want is the
// status it must end in.
func (c *resCluster) backupNow(t *testing.T, planID int64, want string) backupRunJSON {
	t.Helper()
	var queued backupRunJSON
	start := time.Now()
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/backups/%d/run", planID), nil, http.StatusAccepted, &queued)
	run := c.waitBackupRun(t, queued.ID, 4*time.Minute)
	t.Logf("backup run %d: %s in %s, %d bytes", run.ID, run.Status, time.Since(start).Round(100*time.Millisecond), run.SizeBytes)
	if run.Status != want {
		t.Fatalf("backup run %d: %s %q, want %s; log:\n%s", run.ID, run.Status, run.Error, want, c.logs(t, run.OperationID))
	}
	return run
}

// operation waits for a queued operation and checks it succeeded.
func (c *resCluster) operation(t *testing.T, id int64, what string) string {
	t.Helper()
	d := c.waitFinished(t, id, 4*time.Minute)
	log := c.logs(t, id)
	if d.Status != "done" {
		t.Fatalf("%s: %s %q; log:\n%s", what, d.Status, d.Error, log)
	}
	return log
}

// checkArtifact reads the object back and compares it and its sidecar
// with what the run recorded.
func (f *backupFixture) checkArtifact(t *testing.T, run backupRunJSON, ext string) {
	t.Helper()
	if !strings.HasSuffix(run.ObjectKey, ext) || len(run.SHA256) != 64 || run.SizeBytes == 0 {
		t.Fatalf("run %d recorded key %q sha256 %q size %d; want a %s object with a sha256", run.ID, run.ObjectKey, run.SHA256, run.SizeBytes, ext)
	}
	st := f.store(t)
	body, err := st.Get(context.Background(), run.ObjectKey)
	if err != nil {
		t.Fatalf("the object %s of run %d is not in the bucket: %v", run.ObjectKey, run.ID, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, body)
	body.Close()
	if err != nil || n != run.SizeBytes || hex.EncodeToString(h.Sum(nil)) != run.SHA256 {
		t.Fatalf("object %s: %d bytes sha256 %x (%v); the run recorded %d bytes sha256 %s", run.ObjectKey, n, h.Sum(nil), err, run.SizeBytes, run.SHA256)
	}
	sc, err := st.Get(context.Background(), run.ObjectKey+".json")
	if err != nil {
		t.Fatalf("no sidecar for %s: %v", run.ObjectKey, err)
	}
	var side struct {
		SHA256    string `json:"sha256"`
		SizeBytes int64  `json:"size_bytes"`
		Format    string `json:"format"`
	}
	err = json.NewDecoder(sc).Decode(&side)
	sc.Close()
	if err != nil || side.SHA256 != run.SHA256 || side.SizeBytes != run.SizeBytes || side.Format != run.Format {
		t.Fatalf("sidecar of %s says %+v (%v); the run says %s %d %s", run.ObjectKey, side, err, run.SHA256, run.SizeBytes, run.Format)
	}
}

// restore restores run into its own database and returns the log.
func (c *resCluster) restore(t *testing.T, run backupRunJSON, confirm string) string {
	t.Helper()
	var out struct {
		Operation resDeployment `json:"operation"`
	}
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/backup-runs/%d/restore", run.ID), map[string]any{"confirm": confirm}, http.StatusAccepted, &out)
	return c.operation(t, out.Operation.ID, fmt.Sprintf("restore of backup %d", run.ID))
}

// drill runs a restore drill of run and returns the run with its result.
func (c *resCluster) drill(t *testing.T, dbID int64, run backupRunJSON) backupRunJSON {
	t.Helper()
	var op resDeployment
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/databases/%d/drill", dbID), map[string]any{"backup_run_id": run.ID}, http.StatusAccepted, &op)
	c.operation(t, op.ID, fmt.Sprintf("drill of backup %d", run.ID))
	return c.backupRun(t, run.ID)
}

// TestBackups is what a user does with backups, on real engines and a
// real S3 server: back up → the object holds the recorded sha256 and
// size → delete rows → restore → the rows are back; a restore drill
// counts the tables and rows; retention keeps exactly the newest N and a
// failing run deletes nothing; a wrong secret key fails clearly without
// showing the key.
func TestBackups(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	f := newBackupFixture(t, c, "")
	c.mustAPI(t, "PATCH", "/api/v1/settings/deploy", map[string]any{"deploy_concurrency": 5}, http.StatusOK, nil)

	var res struct {
		OK    bool   `json:"ok"`
		Step  string `json:"step"`
		Error string `json:"error"`
	}
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/destinations/%d/test", f.destID), nil, http.StatusOK, &res)
	if !res.OK {
		t.Fatalf("testing a good destination: %+v", res)
	}

	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testBackupPostgres(t, f)
	})
	// MySQL runs on the MariaDB stand-in, with MySQL's tool names.
	for _, engine := range []string{"mariadb", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			image := testkit.DBImage(t, engine)
			testBackupRoundTrip(t, f, engine, image, ".sql.gz",
				func(db dbCredentials) string {
					out, err := dbClient(image, "dokploy-network", append(mysqlArgs(db.InternalURL), "-N", "-e", "SELECT group_concat(v ORDER BY v) FROM notes")...)
					if err != nil {
						t.Fatalf("read: %v %s", err, out)
					}
					return out
				},
				func(db dbCredentials, sql string) {
					if out, err := dbClient(image, "dokploy-network", append(mysqlArgs(db.InternalURL), "-e", sql)...); err != nil {
						t.Fatalf("%s: %v %s", sql, err, out)
					}
				},
				"CREATE TABLE notes (v text); INSERT INTO notes VALUES ('first'),('second')", "DELETE FROM notes", "first,second", "1 tables, 2 rows")
		})
	}
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		image := testkit.DBImage(t, "redis")
		redis := func(db dbCredentials, args ...string) string {
			out, err := dbClient(image, "dokploy-network", append([]string{"redis-cli", "--no-auth-warning", "-u", db.InternalURL}, args...)...)
			if err != nil {
				t.Fatalf("redis-cli %v: %v %s", args, err, out)
			}
			return out
		}
		testBackupRoundTrip(t, f, "redis", image, ".rdb",
			func(db dbCredentials) string { return redis(db, "MGET", "a", "b") },
			func(db dbCredentials, cmd string) { redis(db, strings.Fields(cmd)...) },
			"MSET a first b second", "FLUSHALL", "first\nsecond", "2 keys")
	})
	// A plan on a schedule runs by itself.
	t.Run("schedule", func(t *testing.T) {
		t.Parallel()
		image := testkit.DBImage(t, "redis")
		name := "bk-cron-" + srvRandomHex(3)
		t.Cleanup(func() { dbCleanup(name) })
		created := c.createDatabase(t, f.project, "redis", name, image, 0)
		plan := f.addPlan(t, created.ID, map[string]any{"schedule": "* * * * *", "prefix": "cron"})
		deadline := time.Now().Add(100 * time.Second)
		for {
			var runs struct {
				Items []backupRunJSON `json:"items"`
			}
			c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/databases/%d/backup-runs", created.ID), nil, http.StatusOK, &runs)
			if len(runs.Items) > 0 && runs.Items[0].finished() {
				run := runs.Items[0]
				if run.Status != "done" || run.Reason != "schedule" {
					t.Fatalf("the scheduled run: %+v; log:\n%s", run, c.logs(t, run.OperationID))
				}
				f.checkArtifact(t, run, ".rdb")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no scheduled backup of plan %d within 100 s of a once-a-minute schedule", plan)
			}
			time.Sleep(time.Second)
		}
	})
}

// testBackupRoundTrip backs up a database of engine holding setup, runs
// wipe, restores, and expects read to answer want; a drill must report
// drillSummary.
func testBackupRoundTrip(t *testing.T, f *backupFixture, engine, image, ext string,
	read func(dbCredentials) string, exec func(dbCredentials, string), setup, wipe, want, drillSummary string) {
	c := f.c
	name := "bk-" + engine + "-" + srvRandomHex(3)
	t.Cleanup(func() { dbCleanup(name) })
	created := c.createDatabase(t, f.project, engine, name, image, 0)
	c.waitDatabaseHealthy(t, created)
	creds := c.credentials(t, created.ID)
	exec(creds, setup)
	plan := f.addPlan(t, created.ID, map[string]any{"prefix": engine})
	run := c.backupNow(t, plan, "done")
	f.checkArtifact(t, run, ext)
	exec(creds, wipe)
	if got := read(creds); got == want {
		t.Fatalf("%q still reads %q", wipe, got)
	}
	log := c.restore(t, run, name)
	if !strings.Contains(log, "Safety backup #") {
		t.Errorf("the restore log does not name its safety backup:\n%s", log)
	}
	c.waitDatabaseHealthy(t, created)
	if got := read(creds); got != want {
		t.Fatalf("after the restore %s reads %q, want %q; log:\n%s", name, got, want, log)
	}
	drilled := c.drill(t, created.ID, run)
	if drilled.DrillOK == nil || !*drilled.DrillOK || !strings.Contains(drilled.DrillSummary, drillSummary) {
		t.Fatalf("drill of %s: ok %v summary %q, want %q", name, drilled.DrillOK, drilled.DrillSummary, drillSummary)
	}

	// Into a new database: created from the same engine and image, it
	// holds what the backup held.
	copyName := name + "-copy"
	t.Cleanup(func() { dbCleanup(copyName) })
	var into struct {
		Operation  resDeployment `json:"operation"`
		DatabaseID int64         `json:"database_id"`
	}
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/backup-runs/%d/restore", run.ID), map[string]any{"new_database": copyName}, http.StatusAccepted, &into)
	c.operation(t, into.Operation.ID, "restore into a new database")
	c.waitDatabaseHealthy(t, dbAnswer{ID: into.DatabaseID, Name: copyName})
	copyCreds := c.credentials(t, into.DatabaseID)
	if got := read(copyCreds); got != want {
		t.Fatalf("the new database %s reads %q, want %q", copyName, got, want)
	}

	// Found by listing the destination (as after a reinstall): the
	// sidecar makes it restorable.
	var listed struct {
		Items []struct {
			Key        string `json:"key"`
			SHA256     string `json:"sha256"`
			Restorable bool   `json:"restorable"`
		} `json:"items"`
	}
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/destinations/%d/objects?prefix=%s", f.destID, engine), nil, http.StatusOK, &listed)
	found := false
	for _, o := range listed.Items {
		if o.Key == run.ObjectKey {
			found = o.Restorable && o.SHA256 == run.SHA256
		}
		if strings.HasSuffix(o.Key, ".json") {
			t.Errorf("the listing shows the sidecar %s as an artifact", o.Key)
		}
	}
	if !found {
		t.Fatalf("listing the destination: %+v; want %s restorable with sha256 %s", listed.Items, run.ObjectKey, run.SHA256)
	}
	exec(copyCreds, wipe)
	var fromList struct {
		Operation resDeployment `json:"operation"`
	}
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/destinations/%d/restore", f.destID),
		map[string]any{"object_key": run.ObjectKey, "database_id": into.DatabaseID, "confirm": copyName}, http.StatusAccepted, &fromList)
	c.operation(t, fromList.Operation.ID, "restore of a listed object")
	c.waitDatabaseHealthy(t, dbAnswer{ID: into.DatabaseID, Name: copyName})
	if got := read(copyCreds); got != want {
		t.Fatalf("after restoring the listed object %s reads %q, want %q", copyName, got, want)
	}
}

func testBackupPostgres(t *testing.T, f *backupFixture) {
	c := f.c
	image := testkit.DBImage(t, "postgres")
	name := "bk-pg-" + srvRandomHex(3)
	t.Cleanup(func() { dbCleanup(name) })
	created := c.createDatabase(t, f.project, "postgres", name, image, 0)
	c.waitDatabaseHealthy(t, created)
	creds := c.credentials(t, created.ID)
	psql := func(sql string) string {
		t.Helper()
		out, err := dbClient(image, "dokploy-network", "psql", creds.InternalURL, "-v", "ON_ERROR_STOP=1", "-tAc", sql)
		if err != nil {
			t.Fatalf("psql %q: %v %s", sql, err, out)
		}
		return out
	}
	psql("CREATE TABLE notes (v text); INSERT INTO notes VALUES ('first'), ('second'); CREATE TABLE tags (t text); INSERT INTO tags VALUES ('a')")

	// A plan with a schedule that is not cron is refused, naming the field.
	code, body, _ := c.api("POST", fmt.Sprintf("/api/v1/databases/%d/backups", created.ID), map[string]any{"destination_id": f.destID, "schedule": "every day"})
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"schedule"`) {
		t.Errorf("a plan with schedule \"every day\": %d %s, want 422 naming schedule", code, body)
	}
	plan := f.addPlan(t, created.ID, map[string]any{"prefix": "pg", "keep_last": 2, "schedule": "daily", "timezone": "Europe/Paris"})

	run1 := c.backupNow(t, plan, "done")
	f.checkArtifact(t, run1, ".dump")
	if !strings.HasPrefix(run1.ObjectKey, "pg/"+name+"/"+name+"-") || run1.Format != "pg_dump-custom" || !strings.Contains(run1.EngineVersion, "PostgreSQL") {
		t.Errorf("run 1: key %q format %q version %q", run1.ObjectKey, run1.Format, run1.EngineVersion)
	}
	if log := c.logs(t, run1.OperationID); strings.Contains(log, creds.Password) || strings.Contains(log, f.minio.SecretKey) {
		t.Fatalf("the backup log shows a secret:\n%s", log)
	}

	psql("DELETE FROM notes")
	code, body, _ = c.api("POST", fmt.Sprintf("/api/v1/backup-runs/%d/restore", run1.ID), map[string]any{"confirm": "yes"})
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"confirm"`) {
		t.Fatalf("a restore without the database's name: %d %s, want 422 naming confirm", code, body)
	}
	if got := psql("SELECT count(*) FROM notes"); got != "0" {
		t.Fatalf("a refused restore changed the data: %s rows", got)
	}
	c.restore(t, run1, name)
	if got := psql("SELECT string_agg(v, ',' ORDER BY v) FROM notes"); got != "first,second" {
		t.Fatalf("after the restore notes holds %q, want first,second", got)
	}
	var runs struct {
		Items []backupRunJSON `json:"items"`
	}
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/databases/%d/backup-runs", created.ID), nil, http.StatusOK, &runs)
	if len(runs.Items) != 2 || runs.Items[0].Reason != "safety" || runs.Items[0].Status != "done" {
		t.Fatalf("after the restore the runs are %+v, want the safety backup (done) and run 1", runs.Items)
	}

	drilled := c.drill(t, created.ID, run1)
	if drilled.DrillOK == nil || !*drilled.DrillOK || !strings.Contains(drilled.DrillSummary, "2 tables, 3 rows") {
		t.Fatalf("drill: ok %v summary %q, want 2 tables, 3 rows", drilled.DrillOK, drilled.DrillSummary)
	}

	// Retention keep_last=2: after run 2 the plan holds run 2 and the
	// safety backup; a failing run deletes nothing; after run 4 only runs
	// 2 and 4 remain.
	run2 := c.backupNow(t, plan, "done")
	if c.backupRun(t, run1.ID).DeletedAt == nil {
		t.Errorf("run 1 was kept after run 2 (keep_last 2, with the safety backup newer)")
	}
	before := f.objects(t, "pg")
	c.runOperation(t, created.ID, "stop", nil)
	run3 := c.backupNow(t, plan, "error")
	if !strings.Contains(run3.Error, "start it first") {
		t.Errorf("a backup of a stopped database failed with %q; it should say to start it", run3.Error)
	}
	if after := f.objects(t, "pg"); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("a failing run changed the bucket: %v → %v", before, after)
	}
	c.runOperation(t, created.ID, "start", nil)
	run4 := c.backupNow(t, plan, "done")
	want := []string{run2.ObjectKey, run2.ObjectKey + ".json", run4.ObjectKey, run4.ObjectKey + ".json"}
	sort.Strings(want)
	if got := f.objects(t, "pg"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("after four runs with keep_last 2 the bucket holds %v, want %v", got, want)
	}

	// A wrong secret key: the test names the step, the backup fails, and
	// neither shows the key. It is a destination of its own: the other
	// engines' subtests use the shared one meanwhile.
	wrong := "Wrong-Secret-" + srvRandomHex(8)
	var wrongDest struct {
		ID int64 `json:"id"`
	}
	c.mustAPI(t, "POST", "/api/v1/destinations", map[string]any{
		"name": "minio-wrong-" + srvRandomHex(3), "endpoint": f.minio.Endpoint, "bucket": f.bucket, "prefix": f.prefix,
		"access_key": f.minio.AccessKey, "secret_key": wrong, "path_style": true,
	}, http.StatusCreated, &wrongDest)
	var res struct {
		OK    bool   `json:"ok"`
		Step  string `json:"step"`
		Error string `json:"error"`
	}
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/destinations/%d/test", wrongDest.ID), nil, http.StatusOK, &res)
	if res.OK || res.Step == "" || !strings.Contains(res.Error, "secret key") || strings.Contains(res.Error, wrong) {
		t.Errorf("test with a wrong secret key: %+v; want a failed step that mentions the secret key without showing it", res)
	}
	var wrongPlan struct {
		ID int64 `json:"id"`
	}
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/databases/%d/backups", created.ID),
		map[string]any{"destination_id": wrongDest.ID, "prefix": "pg-wrong"}, http.StatusCreated, &wrongPlan)
	bad := c.backupNow(t, wrongPlan.ID, "error")
	if strings.Contains(bad.Error, wrong) || strings.Contains(c.logs(t, bad.OperationID), wrong) || !strings.Contains(bad.Error, "secret key") {
		t.Errorf("backup with a wrong secret key failed with %q; want the reason, never the key", bad.Error)
	}
}

// TestBackups_KillDuringBackup: the control plane dies (kill -9) while a
// backup uploads; the run ends failed and no object is left in the bucket.
func TestBackups_KillDuringBackup(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	serve := c.serve(t, "serve")
	c.login(t)
	m := testkit.StartMinIO(t)
	// Uploads cross a link of 256 KiB/s, so the backup is surely still
	// running when the process is killed.
	slow := throttledProxy(t, m.Endpoint, 256<<10)
	f := &backupFixture{c: c, minio: m, bucket: m.Bucket(t), prefix: "kill"}
	var dest struct {
		ID int64 `json:"id"`
	}
	c.mustAPI(t, "POST", "/api/v1/destinations", map[string]any{"name": "slow", "endpoint": slow, "bucket": f.bucket, "prefix": f.prefix,
		"access_key": m.AccessKey, "secret_key": m.SecretKey}, http.StatusCreated, &dest)
	f.destID = dest.ID
	project := c.newProject(t)
	image := testkit.DBImage(t, "postgres")
	name := "bk-kill-" + srvRandomHex(3)
	t.Cleanup(func() { dbCleanup(name) })
	created := c.createDatabase(t, project, "postgres", name, image, 0)
	c.waitDatabaseHealthy(t, created)
	creds := c.credentials(t, created.ID)
	// ~6 MB of hex: about 3 MB as a compressed dump, 12 s on the link.
	if out, err := dbClient(image, "dokploy-network", "psql", creds.InternalURL, "-v", "ON_ERROR_STOP=1", "-c",
		"CREATE TABLE blob AS SELECT md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 100000)"); err != nil {
		t.Fatalf("fill: %v %s", err, out)
	}
	plan := f.addPlan(t, created.ID, map[string]any{})
	startSlowBackup := func() backupRunJSON {
		t.Helper()
		var queued backupRunJSON
		c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/backups/%d/run", plan), nil, http.StatusAccepted, &queued)
		deadline := time.Now().Add(2 * time.Minute)
		for !strings.Contains(c.logs(t, queued.OperationID), "Backing up") {
			if time.Now().After(deadline) {
				t.Fatalf("the backup did not start; log:\n%s", c.logs(t, queued.OperationID))
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		return queued
	}

	// Cancel from the API: the upload is aborted, nothing is left.
	cancelled := startSlowBackup()
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/backup-runs/%d/cancel", cancelled.ID), nil, http.StatusOK, nil)
	if run := c.waitBackupRun(t, cancelled.ID, time.Minute); run.Status != "cancelled" {
		t.Fatalf("a cancelled backup ended %s %q", run.Status, run.Error)
	}
	if objs := f.objects(t, ""); len(objs) != 0 {
		t.Fatalf("the cancelled backup left objects in the bucket: %v", objs)
	}

	queued := startSlowBackup()
	if run := c.backupRun(t, queued.ID); run.Status != "running" {
		t.Fatalf("the backup is %s before the kill, want running (the link should make it slow)", run.Status)
	}
	serve.kill9(t)
	c.serve(t, "serve-again")
	run := c.waitBackupRun(t, queued.ID, resRecoverWithin+30*time.Second)
	if run.Status != "error" || run.SHA256 != "" {
		t.Fatalf("after kill -9 the run is %s (sha256 %q), want error without an artifact", run.Status, run.SHA256)
	}
	if objs := f.objects(t, ""); len(objs) != 0 {
		t.Fatalf("the killed backup left objects in the bucket: %v", objs)
	}
	t.Logf("run %d after the kill: %s: %s", run.ID, run.Status, run.Error)
}

// throttledProxy forwards TCP connections to target's host, slowing the
// client → server direction to bytesPerSec, and returns its URL.
func throttledProxy(t *testing.T, target string, bytesPerSec int) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(in, out); in.Close() }()
				buf := make([]byte, 16<<10)
				for {
					n, err := in.Read(buf)
					if n > 0 {
						if _, werr := out.Write(buf[:n]); werr != nil {
							return
						}
						time.Sleep(time.Duration(n) * time.Second / time.Duration(bytesPerSec))
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}
