package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
)

func TestCipher_RoundTripAndTamper(t *testing.T) {
	c, err := db.NewCipher([]byte("a-long-enough-secret-key-for-tests"))
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"", "x", "postgres://user:p@ss@db/app", strings.Repeat("é", 5000)} {
		sealed := c.Seal(plain)
		if len(plain) >= 8 && bytes.Contains(sealed, []byte(plain)) {
			t.Errorf("ciphertext contains the plaintext %q", plain)
		}
		got, err := c.Open(sealed)
		if err != nil || got != plain {
			t.Errorf("round trip of %q: got %q, %v", plain, got, err)
		}
	}
	// The nonce is random: the same value seals differently each time.
	if bytes.Equal(c.Seal("same"), c.Seal("same")) {
		t.Error("two seals of the same value are identical")
	}
	sealed := c.Seal("secret value")
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if got, err := c.Open(tampered); err == nil {
			t.Fatalf("flipping byte %d was not detected (got %q)", i, got)
		}
	}
	if _, err := c.Open(sealed[:5]); err == nil {
		t.Error("truncated ciphertext opened")
	}
	other, _ := db.NewCipher([]byte("a-different-secret-key-for-tests!!"))
	if _, err := other.Open(sealed); err == nil || !strings.Contains(err.Error(), "DOKPLOY_SECRET_KEY") {
		t.Errorf("opening with another key: want an error naming DOKPLOY_SECRET_KEY, got %v", err)
	}
	if _, err := db.NewCipher([]byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

func TestPassword_HashAndCheck(t *testing.T) {
	h1, err := db.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := db.HashPassword("correct horse battery")
	if h1 == h2 {
		t.Error("two hashes of one password are equal: salt missing")
	}
	if !strings.HasPrefix(h1, "$argon2id$") || strings.Contains(h1, "correct horse") {
		t.Errorf("unexpected hash format %q", h1)
	}
	if !db.CheckPassword(h1, "correct horse battery") || !db.CheckPassword(h2, "correct horse battery") {
		t.Error("the right password was rejected")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if db.CheckPassword(h1, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=1,t=1,p=1$!!$!!", strings.Replace(h1, "argon2id", "argon2i", 1)} {
		if db.CheckPassword(bad, "correct horse battery") {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	if db.ValidatePassword("123456789") == nil || db.ValidatePassword("1234567890") != nil || db.ValidatePassword(strings.Repeat("a", 257)) == nil {
		t.Error("password policy: want 10..256 characters")
	}
}

func openFresh(t *testing.T) (string, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return dbtest.NewDatabaseURL(t), ctx
}

func tableExists(t *testing.T, ctx context.Context, dsn, table string) bool {
	t.Helper()
	conn, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var ok bool
	if err := conn.GetContext(ctx, &ok, `SELECT to_regclass($1) IS NOT NULL`, table); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMigrate_UpDownUp(t *testing.T) {
	dsn, ctx := openFresh(t)
	conn, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if !tableExists(t, ctx, dsn, "applications") {
		t.Fatal("applications missing after up")
	}
	status, err := db.MigrationStatus(ctx, conn)
	if err != nil || len(status) == 0 || !strings.Contains(status[0], "applied") {
		t.Fatalf("status after up: %v %v", status, err)
	}
	// Up again is a no-op.
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatalf("second up: %v", err)
	}
	for range status {
		if err := db.MigrateDown(ctx, conn); err != nil {
			t.Fatalf("down: %v", err)
		}
	}
	for _, table := range []string{"users", "applications", "deployments", "deployment_logs"} {
		if tableExists(t, ctx, dsn, table) {
			t.Errorf("%s still exists after down", table)
		}
	}
	status, err = db.MigrationStatus(ctx, conn)
	if err != nil || !strings.Contains(status[0], "pending") {
		t.Fatalf("status after down: %v %v", status, err)
	}
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatalf("up after down: %v", err)
	}
	if !tableExists(t, ctx, dsn, "deployment_logs") {
		t.Fatal("deployment_logs missing after up-down-up")
	}
}

func TestMigrate_ConcurrentCallsBothSucceed(t *testing.T) {
	dsn, ctx := openFresh(t)
	const n = 3
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := db.Open(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			errs[i] = db.Migrate(ctx, conn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
	}
	conn, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var applied int
	if err := conn.GetContext(ctx, &applied, `SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied`); err != nil {
		t.Fatal(err)
	}
	status, _ := db.MigrationStatus(ctx, conn)
	if applied != len(status) {
		t.Fatalf("want each of %d migrations recorded once, got %d rows", len(status), applied)
	}
}

func TestOpen_UnreachableNamesAddress(t *testing.T) {
	_, err := db.Open(context.Background(), "postgres://u:hunter2secret@127.0.0.1:1/x?sslmode=disable")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.1:1", "check"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2secret") {
		t.Errorf("error leaks the password: %q", msg)
	}
}

func TestCreateFirstUser_ConcurrentCreatesOne(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := context.Background()
	// The race window is a few milliseconds; several rounds make a
	// regression show up reliably.
	for round := range 8 {
		dbtest.MustExec(t, s, `DELETE FROM users`)
		raceFirstUser(t, s, round)
	}
	if _, err := s.CreateFirstUser(ctx, "late@example.com", "hash"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("CreateFirstUser after setup: want ErrNotFound, got %v", err)
	}
}

func raceFirstUser(t *testing.T, s *db.Store, round int) {
	t.Helper()
	ctx := context.Background()
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.CreateFirstUser(ctx, fmt.Sprintf("admin%d@example.com", i), "hash")
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, db.ErrNotFound):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	count, _ := s.CountUsers(ctx)
	if created != 1 || count != 1 {
		t.Fatalf("round %d: want exactly one first user, got %d created, %d in table", round, created, count)
	}
}

// newApp creates a project and an image app to hang deployments on.
func newApp(t *testing.T, s *db.Store, appName string) *db.App {
	t.Helper()
	ctx := context.Background()
	p, err := s.CreateProject(ctx, "proj-"+appName, "")
	if err != nil {
		t.Fatal(err)
	}
	a := &db.App{EnvironmentID: p.Environments[0].ID, Name: appName, AppName: appName, SourceType: db.SourceImage,
		Image: "nginx:1.27", GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 80, Replicas: 1}
	if err := s.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCreateDeployment_CollapsesQueued(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := context.Background()
	a := newApp(t, s, "web")
	other := newApp(t, s, "api")
	otherDep, err := s.CreateDeployment(ctx, other.ID, "user", "x")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 3 {
		d, err := s.CreateDeployment(ctx, a.ID, "user", "admin@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != db.DeployQueued {
			t.Fatalf("new deployment status %q", d.Status)
		}
		ids = append(ids, d.ID)
	}
	deps, err := s.Deployments(ctx, a.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	status := map[int64]*db.Deployment{}
	for i := range deps {
		status[deps[i].ID] = &deps[i]
	}
	if len(deps) != 3 {
		t.Fatalf("want 3 deployments, got %d", len(deps))
	}
	last := ids[2]
	if status[last].Status != db.DeployQueued {
		t.Errorf("newest deployment: want queued, got %s", status[last].Status)
	}
	for _, id := range ids[:2] {
		d := status[id]
		if d.Status != db.DeployCancelled || !strings.Contains(d.Error, "superseded") || d.FinishedAt == nil {
			t.Errorf("deployment %d: want cancelled/superseded/finished, got %s %q %v", id, d.Status, d.Error, d.FinishedAt)
		}
	}
	if d, _ := s.Deployment(ctx, otherDep.ID); d.Status != db.DeployQueued {
		t.Errorf("another app's queued deployment was touched: %s", d.Status)
	}
	queued, err := s.QueuedDeployments(ctx)
	if err != nil || len(queued) != 2 {
		t.Fatalf("queued across apps: want 2, got %d (%v)", len(queued), err)
	}
	if _, err := s.CreateDeployment(ctx, 999999, "user", "x"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("deployment of a missing app: want ErrNotFound, got %v", err)
	}
}

func TestClaimDeployment_OneRunningPerApp(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := context.Background()
	a := newApp(t, s, "web")
	first, err := s.CreateDeployment(ctx, a.ID, "user", "x")
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimDeployment(ctx, first.ID, "worker-1")
	if err != nil {
		t.Fatal(err)
	}
	if claimed.Status != db.DeployRunning || claimed.StartedAt == nil || claimed.WorkerID != "worker-1" {
		t.Fatalf("claimed deployment: %+v", claimed)
	}
	if app, _ := s.App(ctx, a.ID); app.Status != db.AppDeploying {
		t.Errorf("app status while deploying: %s", app.Status)
	}
	// Claiming it again finds it no longer queued.
	if _, err := s.ClaimDeployment(ctx, first.ID, "worker-2"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("second claim of one deployment: want ErrNotFound, got %v", err)
	}
	second, err := s.CreateDeployment(ctx, a.ID, "user", "x")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Deployment(ctx, first.ID); d.Status != db.DeployRunning {
		t.Fatalf("a new request cancelled the running deployment: %s", d.Status)
	}
	if _, err := s.ClaimDeployment(ctx, second.ID, "worker-2"); !errors.Is(err, db.ErrAppBusy) {
		t.Fatalf("claim while the app runs another: want ErrAppBusy, got %v", err)
	}
	if d, _ := s.Deployment(ctx, second.ID); d.Status != db.DeployQueued {
		t.Fatalf("busy claim changed the deployment: %s", d.Status)
	}
	// Another app is not blocked.
	other := newApp(t, s, "api")
	od, _ := s.CreateDeployment(ctx, other.ID, "user", "x")
	if _, err := s.ClaimDeployment(ctx, od.ID, "worker-3"); err != nil {
		t.Fatalf("another app blocked: %v", err)
	}
	if err := s.FinishDeployment(ctx, first.ID, db.DeployDone, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimDeployment(ctx, second.ID, "worker-2"); err != nil {
		t.Fatalf("claim after the first finished: %v", err)
	}
}

func TestLogs_AppendAndReadInOrder(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := context.Background()
	a := newApp(t, s, "web")
	d, err := s.CreateDeployment(ctx, a.ID, "user", "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, d.ID, 1, []string{"==> pulling", "layer 1", "layer 2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, d.ID, 4, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, d.ID, 4, []string{"==> starting", "", "done ✓"}); err != nil {
		t.Fatal(err)
	}
	lines, err := s.Logs(ctx, d.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"==> pulling", "layer 1", "layer 2", "==> starting", "", "done ✓"}
	if len(lines) != len(want) {
		t.Fatalf("want %d lines, got %d", len(want), len(lines))
	}
	for i, l := range lines {
		if l.Seq != i+1 || l.Line != want[i] {
			t.Errorf("line %d: got %d %q, want %d %q", i, l.Seq, l.Line, i+1, want[i])
		}
	}
	page, err := s.Logs(ctx, d.ID, 2, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("Logs after 2 limit 2: %+v %v", page, err)
	}
	// Sequence numbers are unique: a replayed batch is refused, not duplicated.
	if err := s.AppendLogs(ctx, d.ID, 1, []string{"dup"}); err == nil {
		t.Error("appending an existing seq succeeded")
	}
}

func TestRunnerQueries_CancelStateRunningAndLastLogSeq(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, s, "web")
	d, err := s.CreateDeployment(ctx, a.ID, "user", "x")
	if err != nil {
		t.Fatal(err)
	}
	if running, err := s.RunningDeployments(ctx); err != nil || len(running) != 0 {
		t.Fatalf("running before the claim: %v %v", running, err)
	}
	if _, err := s.ClaimDeployment(ctx, d.ID, "worker-1"); err != nil {
		t.Fatal(err)
	}
	running, err := s.RunningDeployments(ctx)
	if err != nil || len(running) != 1 || running[0].ID != d.ID || running[0].WorkerID != "worker-1" {
		t.Fatalf("running: %+v %v", running, err)
	}
	if cancel, status, err := s.CancelState(ctx, d.ID); err != nil || cancel || status != db.DeployRunning {
		t.Fatalf("cancel state: %v %q %v", cancel, status, err)
	}
	if _, err := s.RequestCancel(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if cancel, _, err := s.CancelState(ctx, d.ID); err != nil || !cancel {
		t.Fatalf("cancel state after RequestCancel: %v %v", cancel, err)
	}
	if _, _, err := s.CancelState(ctx, 999999); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("cancel state of a missing deployment: %v", err)
	}
	if last, err := s.LastLogSeq(ctx, d.ID); err != nil || last != 0 {
		t.Fatalf("last seq of an empty log: %d %v", last, err)
	}
	if err := s.AppendLogs(ctx, d.ID, 1, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastLogSeq(ctx, d.ID); err != nil || last != 3 {
		t.Fatalf("last seq: %d %v", last, err)
	}
}
