package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The stand-ins for the official database images keep their contract: each
// is started as a product would start the official one (its environment
// variables, a volume on its data path, a random password), reached over TCP
// from a second container with those credentials, refuses a wrong password,
// runs its server as the unprivileged user and keeps its data across a
// restart.

func TestDBImagePostgres(t *testing.T) {
	t.Parallel()
	image := DBImage(t, "postgres")
	pw := secret(t)
	c := startDB(t, image, "/var/lib/postgresql/data", []string{
		"POSTGRES_PASSWORD=" + pw, "POSTGRES_USER=app", "POSTGRES_DB=appdb",
	})
	// -h forces TCP, so the password (scram-sha-256) is what lets us in.
	psql := func(host, password, sql string) []string {
		return []string{"-e", "PGPASSWORD=" + password, "psql", "-h", host, "-U", "app", "-d", "appdb",
			"-v", "ON_ERROR_STOP=1", "-qAtc", sql}
	}
	waitExec(t, c, psql("127.0.0.1", pw, "SELECT 1")...)

	got := fromSecondContainer(t, image, psql(c.ip, pw,
		"CREATE TABLE t (v text); INSERT INTO t VALUES ('hello'); SELECT v FROM t")...)
	if got != "hello" {
		t.Fatalf("psql from a second container = %q, want hello", got)
	}
	if out, err := dockerTry(append([]string{"exec"}, withContainer(c.name, psql("127.0.0.1", pw+"x", "SELECT 1"))...)...); err == nil ||
		!strings.Contains(out, "password authentication failed") {
		t.Fatalf("a wrong password was not refused: %v\n%s", err, out)
	}
	if out, err := dockerTry(append([]string{"exec"}, withContainer(c.name, psql("127.0.0.1", pw, "SELECT current_database(), current_setting('password_encryption')"))...)...); err != nil ||
		out != "appdb|scram-sha-256" {
		t.Fatalf("database and password encryption = %q (%v), want appdb|scram-sha-256", out, err)
	}
	for _, tool := range []string{"pg_isready", "pg_dump", "pg_restore"} {
		docker(t, "exec", c.name, "sh", "-c", `command -v "$1"`, "sh", tool)
	}
	checkServerUser(t, c, "postgres")

	restart(t, c)
	waitExec(t, c, psql("127.0.0.1", pw, "SELECT 1")...)
	if got := docker(t, append([]string{"exec"}, withContainer(c.name, psql("127.0.0.1", pw, "SELECT v FROM t"))...)...); got != "hello" {
		t.Fatalf("after a restart: %q, want hello", got)
	}
}

func TestDBImageMariaDB(t *testing.T) {
	t.Parallel()
	testMySQLFamily(t, "mariadb", "mariadb", "MARIADB_")
}

func TestDBImageMySQL(t *testing.T) {
	t.Parallel()
	testMySQLFamily(t, "mysql", "mysql", "MYSQL_")
}

// testMySQLFamily checks the MariaDB image under one of its two names, with
// that official image's variable names (prefix) and client (client).
func testMySQLFamily(t *testing.T, engine, client, prefix string) {
	image := DBImage(t, engine)
	rootPW, userPW := secret(t), secret(t)
	c := startDB(t, image, "/var/lib/mysql", []string{
		prefix + "ROOT_PASSWORD=" + rootPW, prefix + "DATABASE=appdb",
		prefix + "USER=app", prefix + "PASSWORD=" + userPW,
	})
	sql := func(host, user, password, query string) []string {
		return []string{"-e", "MYSQL_PWD=" + password, client, "--protocol=tcp", "-h", host, "-u", user,
			"--batch", "--skip-column-names", "appdb", "-e", query}
	}
	waitExec(t, c, sql("127.0.0.1", "app", userPW, "SELECT 1")...)

	got := fromSecondContainer(t, image, sql(c.ip, "app", userPW,
		"CREATE TABLE t (v VARCHAR(20)); INSERT INTO t VALUES ('hello'); SELECT v FROM t")...)
	if got != "hello" {
		t.Fatalf("%s from a second container = %q, want hello", client, got)
	}
	if got := fromSecondContainer(t, image, sql(c.ip, "root", rootPW, "SELECT CURRENT_USER()")...); got != "root@%" {
		t.Fatalf("root over TCP = %q, want root@%%", got)
	}
	for _, user := range []string{"app", "root"} {
		if out, err := dockerTry(append([]string{"exec"}, withContainer(c.name, sql("127.0.0.1", user, "wrong", "SELECT 1"))...)...); err == nil ||
			!strings.Contains(out, "Access denied") {
			t.Fatalf("a wrong password for %s was not refused: %v\n%s", user, err, out)
		}
	}
	// As in the official mariadb image, root@localhost also logs in over the socket as OS root.
	if got := docker(t, "exec", c.name, client, "-uroot", "--batch", "--skip-column-names", "-e", "SELECT CURRENT_USER()"); got != "root@localhost" {
		t.Fatalf("root over the socket = %q", got)
	}
	for _, tool := range []string{"mariadb", "mysql", "mariadb-admin", "mysqladmin", "mariadb-dump", "mysqldump"} {
		docker(t, "exec", c.name, "sh", "-c", `command -v "$1"`, "sh", tool)
	}
	checkServerUser(t, c, "mysql")

	restart(t, c)
	waitExec(t, c, sql("127.0.0.1", "app", userPW, "SELECT 1")...)
	if got := docker(t, append([]string{"exec"}, withContainer(c.name, sql("127.0.0.1", "app", userPW, "SELECT v FROM t"))...)...); got != "hello" {
		t.Fatalf("after a restart: %q, want hello", got)
	}
}

func TestDBImageRedis(t *testing.T) {
	t.Parallel()
	image := DBImage(t, "redis")
	pw := secret(t)
	// The command line of the product's Redis service.
	c := startDB(t, image, "/data", nil, "redis-server", "--requirepass", pw, "--appendonly", "yes")
	cli := func(host, password string, args ...string) []string {
		return append([]string{"-e", "REDISCLI_AUTH=" + password, "redis-cli", "-h", host}, args...)
	}
	waitExec(t, c, cli("127.0.0.1", pw, "PING")...)

	if got := fromSecondContainer(t, image, cli(c.ip, pw, "SET", "k", "hello")...); got != "OK" {
		t.Fatalf("SET from a second container = %q", got)
	}
	if got := fromSecondContainer(t, image, cli(c.ip, pw, "GET", "k")...); got != "hello" {
		t.Fatalf("GET from a second container = %q, want hello", got)
	}
	if out, _ := dockerTry(append([]string{"exec"}, withContainer(c.name, cli("127.0.0.1", "wrong", "GET", "k"))...)...); strings.Contains(out, "hello") ||
		!strings.Contains(out, "WRONGPASS") {
		t.Fatalf("a wrong password was not refused:\n%s", out)
	}
	if got := docker(t, append([]string{"exec"}, withContainer(c.name, cli("127.0.0.1", pw, "CONFIG", "GET", "protected-mode"))...)...); got != "protected-mode\nno" {
		t.Fatalf("protected-mode = %q, want no (as in the official image)", got)
	}
	checkServerUser(t, c, "redis")

	// Without a password it is reachable from other containers too, as the official image is.
	open := startDB(t, image, "/data", nil)
	waitExec(t, open, "redis-cli", "PING")
	if got := fromSecondContainer(t, image, "redis-cli", "-h", open.ip, "PING"); got != "PONG" {
		t.Fatalf("PING without a password from a second container = %q", got)
	}

	restart(t, c)
	waitExec(t, c, cli("127.0.0.1", pw, "PING")...)
	if got := docker(t, append([]string{"exec"}, withContainer(c.name, cli("127.0.0.1", pw, "GET", "k"))...)...); got != "hello" {
		t.Fatalf("after a restart: %q, want hello", got)
	}
}

func TestDBImageMongo(t *testing.T) {
	t.Parallel()
	image := DBImage(t, "mongo")
	pw := secret(t)
	c := startDB(t, image, "/data/db", []string{
		"MONGO_INITDB_ROOT_USERNAME=root", "MONGO_INITDB_ROOT_PASSWORD=" + pw,
	})
	uri := func(host, password string) string {
		u := url.URL{Scheme: "mongodb", User: url.UserPassword("root", password), Host: host + ":27017", Path: "/", RawQuery: "authSource=admin"}
		return u.String()
	}
	lite := func(uri string, args ...string) []string {
		return append([]string{"-e", "MONGO_URI=" + uri, "mongo-lite"}, args...)
	}
	waitExec(t, c, lite(uri("127.0.0.1", pw), "ping")...)

	fromSecondContainer(t, image, lite(uri(c.ip, pw), "insert", "app", "things", `{"v":"hello"}`)...)
	if got := fromSecondContainer(t, image, lite(uri(c.ip, pw), "find", "app", "things")...); !strings.Contains(got, `"v":"hello"`) {
		t.Fatalf("find from a second container = %q", got)
	}
	if out, err := dockerTry(append([]string{"exec"}, withContainer(c.name, lite(uri("127.0.0.1", "wrong"), "ping"))...)...); err == nil ||
		!strings.Contains(out, "Authentication failed") {
		t.Fatalf("a wrong password was not refused: %v\n%s", err, out)
	}
	if out, err := dockerTry(append([]string{"exec"}, withContainer(c.name, lite("mongodb://127.0.0.1:27017/", "find", "app", "things"))...)...); err == nil ||
		!strings.Contains(out, "requires authentication") {
		t.Fatalf("a client without credentials could read: %v\n%s", err, out)
	}
	checkServerUser(t, c, "mongodb")

	restart(t, c)
	waitExec(t, c, lite(uri("127.0.0.1", pw), "ping")...)
	if got := docker(t, append([]string{"exec"}, withContainer(c.name, lite(uri("127.0.0.1", pw), "find", "app", "things"))...)...); !strings.Contains(got, `"v":"hello"`) {
		t.Fatalf("after a restart: %q", got)
	}
}

// dbContainer is a database container started by startDB.
type dbContainer struct {
	name string
	ip   string // on Docker's default bridge network
}

// startDB runs image detached with env, a new volume on dataPath and
// optionally a command, and removes both when the test ends.
func startDB(t *testing.T, image, dataPath string, env []string, cmd ...string) *dbContainer {
	t.Helper()
	name := "dokploy-dbimage-test-" + strings.ToLower(t.Name()) + "-" + secret(t)[:8]
	name = strings.NewReplacer("/", "-", "_", "-").Replace(name)
	docker(t, "volume", "create", name)
	t.Cleanup(func() {
		_, _ = dockerTry("rm", "-f", "-v", name)
		_, _ = dockerTry("volume", "rm", "-f", name)
	})
	args := []string{"run", "-d", "--name", name, "-v", name + ":" + dataPath}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, image)
	docker(t, append(args, cmd...)...)
	c := &dbContainer{name: name}
	c.ip = docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
	if c.ip == "" {
		t.Fatalf("container %s has no IP address", name)
	}
	return c
}

// withContainer puts the container's name between exec's options (a
// leading "-e VAR=value" pair) and the command.
func withContainer(name string, args []string) []string {
	var opts []string
	for len(args) >= 2 && args[0] == "-e" {
		opts = append(opts, args[0], args[1])
		args = args[2:]
	}
	return append(append(opts, name), args...)
}

// waitExec runs args (see withContainer) in c until they succeed, for at
// most a minute, and fails the test with the last output and the logs.
func waitExec(t *testing.T, c *dbContainer, args ...string) {
	t.Helper()
	// Generous: a first MariaDB start initialises its data files, which took
	// over a minute on a 2-core machine busy with the other test packages.
	deadline := time.Now().Add(3 * time.Minute)
	var out string
	var err error
	for time.Now().Before(deadline) {
		if out, err = dockerTry(append([]string{"exec"}, withContainer(c.name, args)...)...); err == nil {
			return
		}
		if state, _ := dockerTry("inspect", "-f", "{{.State.Running}}", c.name); state == "false" {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	logs, _ := dockerTry("logs", "--tail", "40", c.name)
	t.Fatalf("%s did not become ready: %v\n%s\nlogs:\n%s", c.name, err, out, logs)
}

// fromSecondContainer runs args (see withContainer) in a new container of
// image and returns its output.
func fromSecondContainer(t *testing.T, image string, args ...string) string {
	t.Helper()
	opts := withContainer(image, args)
	return docker(t, append([]string{"run", "--rm"}, opts...)...)
}

// checkServerUser fails unless c's main process runs as user.
func checkServerUser(t *testing.T, c *dbContainer, user string) {
	t.Helper()
	if got := docker(t, "exec", c.name, "stat", "-c", "%U", "/proc/1"); got != user {
		t.Fatalf("the server in %s runs as %q, want %q", c.name, got, user)
	}
}

// restart stops c (the image's stop signal, then a clean shutdown) and starts it again.
func restart(t *testing.T, c *dbContainer) {
	t.Helper()
	docker(t, "restart", "-t", "20", c.name)
}

// secret returns a random password with characters that need quoting in
// SQL and in shells, to show that none is built into a string.
func secret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b) + `'"\ $;`
}

func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := dockerTry(args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func dockerTry(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out)", ctx.Err())
	}
	return strings.TrimSpace(string(out)), err
}
