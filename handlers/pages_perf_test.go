package handlers

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs"
	"dokploy/jobs/docker"
	"dokploy/views"
)

// stmtLog records the statements sent through a countingConnector while
// on, with the columns each query returned: tests count them per request.
type stmtLog struct {
	on       atomic.Bool
	mu       sync.Mutex
	stmts    []loggedStmt
	connects atomic.Int64 // connections opened to PostgreSQL, ever
}

type loggedStmt struct {
	SQL     string
	Columns []string
}

func (l *stmtLog) add(query string, cols []string) {
	if !l.on.Load() {
		return
	}
	l.mu.Lock()
	l.stmts = append(l.stmts, loggedStmt{SQL: query, Columns: cols})
	l.mu.Unlock()
}

// record returns the statements fn sent.
func (l *stmtLog) record(fn func()) []loggedStmt {
	l.mu.Lock()
	l.stmts = nil
	l.mu.Unlock()
	l.on.Store(true)
	fn()
	l.on.Store(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedStmt(nil), l.stmts...)
}

// countingConnector is lib/pq with every query and exec logged.
type countingConnector struct {
	driver.Connector
	log *stmtLog
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c.log.connects.Add(1)
	return &countingConn{Conn: conn, log: c.log}, nil
}

type countingConn struct {
	driver.Conn
	log *stmtLog
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	var cols []string
	if err == nil {
		cols = rows.Columns()
	}
	c.log.add(query, cols)
	return rows, err
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.log.add(query, nil)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.log.add(query, nil)
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *countingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

// pagesFixture is the real handler stack on a migrated database whose
// statements are logged, with a signed-in admin and seeded projects.
type pagesFixture struct {
	dsn     string // the test database's URL
	store   *db.Store
	log     *stmtLog
	srv     *httptest.Server
	client  *http.Client
	project int64 // a seeded project
	app     int64 // a seeded app of it, with variables and deployments
}

// newPagesFixture seeds projects × appsPer apps (one environment each).
func newPagesFixture(tb testing.TB, projects, appsPer int) *pagesFixture {
	tb.Helper()
	dsn := dbtest.NewDatabaseURL(tb)
	connector, err := pq.NewConnector(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	log := &stmtLog{}
	conn := sqlx.NewDb(sql.OpenDB(countingConnector{Connector: connector, log: log}), "postgres")
	conn.SetMaxOpenConns(20) // as db.Open
	conn.SetMaxIdleConns(20)
	tb.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := db.Migrate(ctx, conn); err != nil {
		tb.Fatal(err)
	}
	cipher, err := db.NewCipher([]byte("test-secret-key-0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	store := db.NewStore(conn, cipher)
	pool, err := jobs.OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pool.Close() })
	dk, err := docker.New(docker.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { dk.Close() })
	runner := jobs.NewRunner(jobs.Options{Store: store, Redis: pool, Docker: dk, Namespace: dbtest.RedisNamespace(tb, pool)})
	renderer, err := views.New()
	if err != nil {
		tb.Fatal(err)
	}
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	h := New(Options{PublicURL: "http://dokploy.test", Version: "test", TrustedProxies: []*net.IPNet{loopback}}, store, renderer, runner)
	if err := h.PrepareSetup(ctx); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h.Router())
	tb.Cleanup(srv.Close)
	u := strings.TrimPrefix(h.SetupLink(), "http://dokploy.test")
	f := &pagesFixture{dsn: dsn, store: store, log: log, srv: srv, client: testkit.Setup(tb, srv.URL+u, adminEmail, adminPassword)}
	f.client.Transport = &http.Transport{MaxIdleConnsPerHost: 64}

	for i := range projects {
		p, err := store.CreateProject(ctx, fmt.Sprintf("project-%02d", i), "")
		if err != nil {
			tb.Fatal(err)
		}
		for j := range appsPer {
			a := &db.App{EnvironmentID: p.Environments[0].ID, Name: fmt.Sprintf("App %02d-%02d", i, j),
				AppName: fmt.Sprintf("app-%02d-%02d", i, j), SourceType: db.SourceGit, GitURL: "https://git.example/shop.git",
				GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 3000, Replicas: 1}
			if err := store.CreateApp(ctx, a); err != nil {
				tb.Fatal(err)
			}
			token := "ghp_secret"
			if err := store.SetAppSecrets(ctx, a.ID, db.SecretUpdate{GitToken: &token}); err != nil {
				tb.Fatal(err)
			}
			if err := store.SetAppVariables(ctx, a.ID, db.VarEnv, []db.Variable{{Key: "DATABASE_URL", Value: "postgres://x"}, {Key: "API_KEY", Value: "k"}}); err != nil {
				tb.Fatal(err)
			}
			if i == 0 && j == 0 {
				f.project, f.app = p.ID, a.ID
				for range 3 {
					if _, err := store.CreateDeployment(ctx, a.ID, "user", adminEmail); err != nil {
						tb.Fatal(err)
					}
				}
			}
		}
	}
	return f
}

// get fetches path as the signed-in admin and fails unless it is a 200.
func (f *pagesFixture) get(tb testing.TB, path string) string {
	tb.Helper()
	res, err := f.client.Get(f.srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: status %d: %s", path, res.StatusCode, testkit.Truncate(string(body)))
	}
	return string(body)
}

// pagePaths are the hot pages: dashboard, project, app and its live poll.
func (f *pagesFixture) pagePaths() map[string]string {
	return map[string]string{
		"dashboard": "/",
		"project":   fmt.Sprintf("/projects/%d", f.project),
		"app":       fmt.Sprintf("/apps/%d", f.app),
		"app env":   fmt.Sprintf("/apps/%d/environment", f.app),
		"app live":  fmt.Sprintf("/apps/%d/deployments/table", f.app),
	}
}

// TestPages_QueriesIndependentOfAppCount would fail if an N+1 came back:
// each hot page sends the same few statements for 5 apps as for 500, and
// the live poll reads no sealed column and no variable.
func TestPages_QueriesIndependentOfAppCount(t *testing.T) {
	small := newPagesFixture(t, 1, 5)
	large := newPagesFixture(t, 50, 10)
	const maxStatements = 8
	for name, path := range small.pagePaths() {
		var body string
		smallStmts := small.log.record(func() { small.get(t, path) })
		largeStmts := large.log.record(func() { body = large.get(t, large.pagePaths()[name]) })
		t.Logf("%s: %d statements", name, len(largeStmts))
		if len(largeStmts) != len(smallStmts) || len(largeStmts) > maxStatements {
			t.Errorf("%s: %d statements with 5 apps, %d with 500 (want equal, ≤ %d): %v", name, len(smallStmts), len(largeStmts), maxStatements, sqlOf(largeStmts))
		}
		switch name {
		case "dashboard":
			for _, want := range []string{"project-00", "project-49", "App 49-02", "10 apps", "7 more apps"} {
				if !strings.Contains(body, want) {
					t.Errorf("dashboard lacks %q", want)
				}
			}
		case "project":
			if !strings.Contains(body, "App 00-09") || !strings.Contains(body, "app-00-00") || strings.Contains(body, "App 01-00") {
				t.Errorf("project page shows the wrong apps")
			}
		case "app env":
			if !strings.Contains(body, "DATABASE_URL") || strings.Contains(body, "postgres://x") {
				t.Errorf("the Environment tab must list the variable names and mask their values")
			}
		case "app live":
			if !strings.Contains(body, `id="deployments"`) {
				t.Errorf("live partial lacks the deployments table")
			}
		}
		if name == "app live" || name == "dashboard" || name == "project" {
			for _, s := range largeStmts {
				// Databases and stacks of the project page still read
				// their sealed columns (never opened); this guards apps.
				if strings.Contains(s.SQL, "FROM databases") || strings.Contains(s.SQL, "FROM compose_stacks") {
					continue
				}
				if strings.Contains(s.SQL, "service_variables") {
					t.Errorf("%s reads variables: %s", name, s.SQL)
				}
				for _, c := range s.Columns {
					if strings.HasSuffix(c, "_enc") {
						t.Errorf("%s reads sealed column %s: %s", name, c, s.SQL)
					}
				}
			}
		}
	}
	// The app page lists variable names: it reads keys, never the values.
	for _, s := range large.log.record(func() { large.get(t, large.pagePaths()["app"]) }) {
		for _, c := range s.Columns {
			if c == "value_enc" {
				t.Errorf("app page reads variable values: %s", s.SQL)
			}
		}
	}
}

func sqlOf(stmts []loggedStmt) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = strings.Join(strings.Fields(s.SQL), " ")
		if len(out[i]) > 80 {
			out[i] = out[i][:80]
		}
	}
	return out
}
