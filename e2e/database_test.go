package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// dbEngineCase is how the test talks to one engine from a client
// container (the stand-in image carries the engine's own client).
type dbEngineCase struct {
	engine string
	port   int // the engine's port inside the network
	// write stores a row with value, read returns what was stored; both
	// get a URL of the form the API answers.
	write func(t *testing.T, image, network, url, value string) error
	read  func(t *testing.T, image, network, url string) (string, error)
	// limited marks the MongoDB stand-in (FerretDB): it has no mongosh,
	// which the password change runs, so that step and re-using a kept
	// volume under a new password are not exercised.
	limited bool
}

// dbClient runs image's client in a throwaway container on network.
func dbClient(image, network string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"run", "--rm", "--network", network, "--entrypoint", args[0], image}, args[1:]...)
	out, err := exec.CommandContext(ctx, "docker", full...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

var dbEngineCases = []dbEngineCase{
	{
		engine: "postgres", port: 5432,
		write: func(t *testing.T, image, network, url, value string) error {
			out, err := dbClient(image, network, "psql", url, "-v", "ON_ERROR_STOP=1", "-c",
				"CREATE TABLE IF NOT EXISTS notes (v text); INSERT INTO notes VALUES ('"+value+"')")
			return errOut(err, out)
		},
		read: func(t *testing.T, image, network, url string) (string, error) {
			out, err := dbClient(image, network, "psql", url, "-tAc", "SELECT string_agg(v, ',') FROM notes")
			return out, errOut(err, out)
		},
	},
	{engine: "mariadb", port: 3306, write: mysqlWrite, read: mysqlRead},
	{
		// MySQL runs on the MariaDB stand-in: same protocol and MYSQL_* variables.
		engine: "mysql", port: 3306,
		write: mysqlWrite, read: mysqlRead,
	},
	{
		engine: "mongo", port: 27017, limited: true,
		write: func(t *testing.T, image, network, url, value string) error {
			out, err := dbClient(image, network, "env", "MONGO_URI="+url, "mongo-lite", "insert", "app", "notes", `{"v":"`+value+`"}`)
			return errOut(err, out)
		},
		read: func(t *testing.T, image, network, url string) (string, error) {
			out, err := dbClient(image, network, "env", "MONGO_URI="+url, "mongo-lite", "find", "app", "notes")
			if err != nil {
				return out, errOut(err, out)
			}
			var vals []string
			for _, part := range strings.Split(out, `"v":"`)[1:] {
				v, _, _ := strings.Cut(part, `"`)
				vals = append(vals, v)
			}
			return strings.Join(vals, ","), nil
		},
	},
	{
		engine: "redis", port: 6379,
		write: func(t *testing.T, image, network, url, value string) error {
			out, err := dbClient(image, network, "redis-cli", "--no-auth-warning", "-u", url, "APPEND", "notes", value+",")
			if err == nil && !strings.HasPrefix(out, "(integer)") && !isDigits(out) {
				return fmt.Errorf("APPEND answered %q", out)
			}
			return errOut(err, out)
		},
		read: func(t *testing.T, image, network, url string) (string, error) {
			out, err := dbClient(image, network, "redis-cli", "--no-auth-warning", "-u", url, "GET", "notes")
			if err == nil && (strings.Contains(out, "NOAUTH") || strings.Contains(out, "WRONGPASS")) {
				return out, fmt.Errorf("redis refused: %s", out)
			}
			return strings.TrimSuffix(out, ","), errOut(err, out)
		},
	},
}

func mysqlWrite(t *testing.T, image, network, url, value string) error {
	out, err := dbClient(image, network, append(mysqlArgs(url), "-e",
		"CREATE TABLE IF NOT EXISTS notes (v text); INSERT INTO notes VALUES ('"+value+"')")...)
	return errOut(err, out)
}

func mysqlRead(t *testing.T, image, network, url string) (string, error) {
	out, err := dbClient(image, network, append(mysqlArgs(url), "-N", "-e", "SELECT group_concat(v) FROM notes")...)
	return out, errOut(err, out)
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func errOut(err error, out string) error {
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// mysqlArgs turns mysql://user:pass@host:port/db into client arguments.
func mysqlArgs(url string) []string {
	rest := strings.TrimPrefix(url, "mysql://")
	creds, hostPart, _ := strings.Cut(rest, "@")
	user, pass, _ := strings.Cut(creds, ":")
	hostPort, dbName, _ := strings.Cut(hostPart, "/")
	host, port, _ := strings.Cut(hostPort, ":")
	return []string{"mariadb", "-h", host, "-P", port, "-u", user, "-p" + pass, dbName}
}

type dbAnswer struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	InternalURL string `json:"internal_url"`
	ExternalURL string `json:"external_url"`
	Deployment  struct {
		ID int64 `json:"id"`
	} `json:"deployment"`
}

type dbCredentials struct {
	Password    string `json:"password"`
	InternalURL string `json:"internal_url"`
	ExternalURL string `json:"external_url"`
}

// TestDatabases_Lifecycle runs every engine that has a stand-in image
// through what a user does: create through the API → healthy → an app
// container on dokploy-network writes with the internal URL → restart →
// the row is still there → the host reads through the external port →
// change the password (the old one fails, the new one works) → delete
// keeping the volume, re-create with the same name: the data is back →
// delete removing the volume: a re-created database is empty.
func TestDatabases_Lifecycle(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	project := c.newProject(t)
	// The engines run side by side: operations of different services may
	// run at once.
	c.mustAPI(t, "PATCH", "/api/v1/settings/deploy", map[string]any{"deploy_concurrency": len(dbEngineCases)}, http.StatusOK, nil)

	// A database that cannot start fails its deploy with the engine's own
	// words in the log, and shows error.
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		name := "db-bad-" + srvRandomHex(3)
		t.Cleanup(func() { dbCleanup(name) })
		var out dbAnswer
		c.mustAPI(t, "POST", "/api/v1/databases", map[string]any{"project_id": project, "engine": "postgres", "name": name,
			"image": testkit.DBImage(t, "postgres"), "args": []any{"-c", "no_such_setting=1"}}, http.StatusCreated, &out)
		d := c.waitFinished(t, out.Deployment.ID, 4*time.Minute)
		log := c.logs(t, d.ID)
		if d.Status != "error" || !strings.Contains(log, "no_such_setting") {
			t.Fatalf("deploy of a database with a bad setting: %s %q; the log should quote the engine:\n%s", d.Status, d.Error, log)
		}
		if st := c.databaseStatus(t, out.ID); st != "error" {
			t.Errorf("status %q after a failed first deploy, want error", st)
		}
		// It is not left crash-looping.
		if out, _ := exec.Command("docker", "service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", name).Output(); strings.TrimSpace(string(out)) != "0" {
			t.Errorf("service %s has %s replicas after its first deploy failed, want 0", name, out)
		}
	})

	for _, tc := range dbEngineCases {
		t.Run(tc.engine, func(t *testing.T) {
			t.Parallel()
			image := testkit.DBImage(t, tc.engine)
			name := "db-" + tc.engine + "-" + srvRandomHex(3)
			extPort := testkit.FreePort(t)
			t.Cleanup(func() { dbCleanup(name) })

			created := c.createDatabase(t, project, tc.engine, name, image, extPort)
			if !strings.Contains(created.InternalURL, ":********@") {
				t.Errorf("internal URL %q does not mask the password", created.InternalURL)
			}
			c.waitDatabaseHealthy(t, created)
			// Pinned to the node its volume lives on.
			if out, _ := exec.Command("docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.Placement.Constraints}}", name).Output(); !strings.Contains(string(out), "node.id==") {
				t.Errorf("service %s placement %q, want a node.id constraint", name, out)
			}
			creds := c.credentials(t, created.ID)
			if strings.Contains(created.InternalURL, creds.Password) {
				t.Fatalf("the create answer shows the password: %s", created.InternalURL)
			}
			if len(creds.Password) < 32 {
				t.Errorf("generated password %d characters, want ≥ 32", len(creds.Password))
			}
			wantHost := fmt.Sprintf("@%s:%d", name, tc.port)
			if !strings.Contains(creds.InternalURL, wantHost) {
				t.Errorf("internal URL %q, want host %s", creds.InternalURL, wantHost)
			}

			// An app on dokploy-network writes with the internal URL.
			if err := tc.write(t, image, "dokploy-network", creds.InternalURL, "first"); err != nil {
				t.Fatalf("write through the internal URL: %v", err)
			}

			// Restart: the row survives.
			c.runOperation(t, created.ID, "restart", nil)
			c.waitDatabaseHealthy(t, created)
			if got, err := tc.read(t, image, "dokploy-network", creds.InternalURL); err != nil || got != "first" {
				t.Fatalf("after restart read %q %v, want first", got, err)
			}

			// Stop: stopped only once the container is gone; start again.
			c.runOperation(t, created.ID, "stop", nil)
			if st := c.databaseStatus(t, created.ID); st != "stopped" {
				t.Fatalf("after stop the status is %q", st)
			}
			if out, _ := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+name).Output(); strings.TrimSpace(string(out)) != "" {
				t.Fatalf("a container of %s still runs after stop: %s", name, out)
			}
			c.runOperation(t, created.ID, "start", nil)
			if st := c.databaseStatus(t, created.ID); st != "healthy" {
				t.Fatalf("after start the status is %q, want healthy", st)
			}

			// The host reaches it through the external port.
			hostURL := creds.ExternalURL
			if !strings.Contains(hostURL, fmt.Sprintf(":%d", extPort)) {
				t.Fatalf("external URL %q does not use port %d", hostURL, extPort)
			}
			if got, err := tc.read(t, image, "host", hostURL); err != nil || got != "first" {
				t.Fatalf("read through the external port: %q %v", got, err)
			}

			if tc.limited {
				c.mustAPI(t, "DELETE", fmt.Sprintf("/api/v1/databases/%d?volume=remove", created.ID), nil, http.StatusNoContent, nil)
				if dbVolumeExists(name + "-data") {
					t.Fatalf("volume %s-data still exists after delete with volume=remove", name)
				}
				return
			}

			// Change the password: the old one fails, the new one works.
			newPassword := "Changed-" + srvRandomHex(10)
			c.runOperation(t, created.ID, "password", map[string]any{"password": newPassword})
			after := c.credentials(t, created.ID)
			if after.Password != newPassword {
				t.Fatalf("stored password %q, want %q", after.Password, newPassword)
			}
			c.waitDatabaseHealthy(t, created)
			if _, err := tc.read(t, image, "dokploy-network", creds.InternalURL); err == nil {
				t.Fatalf("the old password still works after the change")
			}
			if got, err := tc.read(t, image, "dokploy-network", after.InternalURL); err != nil || got != "first" {
				t.Fatalf("new password: %q %v", got, err)
			}

			// Delete keeping the volume; the same name gets the data back.
			c.mustAPI(t, "DELETE", fmt.Sprintf("/api/v1/databases/%d", created.ID), nil, http.StatusUnprocessableEntity, nil)
			c.mustAPI(t, "DELETE", fmt.Sprintf("/api/v1/databases/%d?volume=keep", created.ID), nil, http.StatusNoContent, nil)
			if !dbVolumeExists(name + "-data") {
				t.Fatalf("volume %s-data gone after delete with volume=keep", name)
			}
			again := c.createDatabase(t, project, tc.engine, name, image, 0)
			c.waitDatabaseHealthy(t, again)
			creds2 := c.credentials(t, again.ID)
			if got, err := tc.read(t, image, "dokploy-network", creds2.InternalURL); err != nil || got != "first" {
				t.Fatalf("re-created on the kept volume: read %q %v, want first", got, err)
			}

			// Delete removing the volume: nothing of it remains.
			c.mustAPI(t, "DELETE", fmt.Sprintf("/api/v1/databases/%d?volume=remove", again.ID), nil, http.StatusNoContent, nil)
			if dbVolumeExists(name + "-data") {
				t.Fatalf("volume %s-data still exists after delete with volume=remove", name)
			}
			if out, _ := exec.Command("docker", "service", "ls", "-q", "--filter", "name="+name).Output(); strings.TrimSpace(string(out)) != "" {
				t.Fatalf("service %s still exists: %s", name, out)
			}
		})
	}
}

// TestDatabases_BadInput: each refusal names the field and writes nothing.
func TestDatabases_BadInput(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve", "DOKPLOY_WORKER=false")
	c.login(t)
	project := c.newProject(t)
	appID, appName := c.newApp(t, project, map[string]any{"type": "image", "image": "nginx:1"})
	_ = appID
	held := testkit.FreePort(t)
	c.mustAPI(t, "PATCH", fmt.Sprintf("/api/v1/applications/%d", appID), map[string]any{
		"ports": []any{map[string]any{"published": held, "target": 80}}}, http.StatusOK, nil)

	cases := []struct {
		body  map[string]any
		code  int
		field string
	}{
		{map[string]any{"engine": "oracle", "name": "db-x"}, 422, "engine"},
		{map[string]any{"engine": "postgres", "name": appName}, 409, "name"},
		{map[string]any{"engine": "postgres", "name": "db-y", "external_port": held}, 409, "ports"},
		{map[string]any{"engine": "postgres", "name": "db-z", "external_port": 5432}, 422, "external_port"},
		{map[string]any{"engine": "postgres", "name": "db-w", "image": "postgres 17"}, 422, "image"},
		{map[string]any{"engine": "mysql", "name": "db-v", "user": "root"}, 422, "user"},
		{map[string]any{"engine": "postgres", "name": "Bad_Name"}, 422, "name"},
	}
	for _, tc := range cases {
		tc.body["project_id"] = project
		code, body, err := c.api("POST", "/api/v1/databases", tc.body)
		if err != nil || code != tc.code || !strings.Contains(string(body), `"field":"`+tc.field+`"`) {
			t.Errorf("%v: %d %s, want %d naming field %s", tc.body, code, body, tc.code, tc.field)
		}
	}
	var list struct {
		Items []any `json:"items"`
	}
	c.mustAPI(t, "GET", "/api/v1/databases", nil, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Fatalf("refused creates left %d databases", len(list.Items))
	}
}

func (c *resCluster) createDatabase(t *testing.T, project int64, engine, name, image string, extPort int) dbAnswer {
	t.Helper()
	body := map[string]any{"project_id": project, "engine": engine, "name": name, "image": image}
	if extPort > 0 {
		body["external_port"] = extPort
	}
	var out dbAnswer
	c.mustAPI(t, "POST", "/api/v1/databases", body, http.StatusCreated, &out)
	if out.Deployment.ID == 0 {
		t.Fatalf("create answered no deployment: %+v", out)
	}
	start := time.Now()
	d := c.waitFinished(t, out.Deployment.ID, 4*time.Minute)
	t.Logf("first deploy of %s took %s", name, time.Since(start).Round(100*time.Millisecond))
	if d.Status != "done" {
		t.Fatalf("first deploy of %s: %s %s; log:\n%s", name, d.Status, d.Error, c.logs(t, d.ID))
	}
	return out
}

func (c *resCluster) waitDatabaseHealthy(t *testing.T, d dbAnswer) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := c.databaseStatus(t, d.ID)
		if st == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database %s is %q, not healthy, after 2 minutes", d.Name, st)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *resCluster) databaseStatus(t *testing.T, id int64) string {
	t.Helper()
	var now dbAnswer
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/databases/%d", id), nil, http.StatusOK, &now)
	return now.Status
}

func (c *resCluster) credentials(t *testing.T, id int64) dbCredentials {
	t.Helper()
	var out dbCredentials
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/databases/%d/credentials", id), nil, http.StatusOK, &out)
	return out
}

// runOperation queues an operation and waits for it to succeed.
func (c *resCluster) runOperation(t *testing.T, id int64, action string, body any) {
	t.Helper()
	var d resDeployment
	start := time.Now()
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/databases/%d/%s", id, action), body, http.StatusAccepted, &d)
	done := c.waitFinished(t, d.ID, 3*time.Minute)
	t.Logf("%s took %s", action, time.Since(start).Round(100*time.Millisecond))
	if done.Status != "done" {
		t.Fatalf("%s: %s %s; log:\n%s", action, done.Status, done.Error, c.logs(t, d.ID))
	}
}

func dbVolumeExists(name string) bool {
	return exec.Command("docker", "volume", "inspect", name).Run() == nil
}

// dbCleanup removes what a failed test may leave behind.
func dbCleanup(name string) {
	_ = exec.Command("docker", "service", "rm", name).Run()
	for range 40 {
		if exec.Command("docker", "volume", "rm", name+"-data").Run() == nil || !dbVolumeExists(name+"-data") {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
