package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// TestNetworkGuard: git URLs and image references that lead to the control
// plane's own PostgreSQL, Redis or dashboard, or to the metadata address,
// are saved (they are valid URLs) but the deploy refuses to connect, with a
// message naming what was refused. Checked against the running product
// with its real configuration.
func TestNetworkGuard(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	project := c.newProject(t)

	pg, err := url.Parse(c.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	redis, err := url.Parse(c.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	dashboard := strings.TrimPrefix(c.URL, "http://")
	cases := []struct {
		source map[string]any
		want   string
	}{
		{map[string]any{"type": "git", "url": "http://" + redis.Host + "/x.git", "branch": "main"}, "the control plane's Redis"},
		{map[string]any{"type": "git", "url": "http://localhost:" + pg.Port() + "/x.git", "branch": "main"}, "the control plane's PostgreSQL"},
		{map[string]any{"type": "git", "url": "git://" + dashboard + "/x.git", "branch": "main"}, "the dashboard"},
		{map[string]any{"type": "git", "url": "http://169.254.169.254/latest/meta-data.git", "branch": "main"}, "link-local"},
		{map[string]any{"type": "image", "image": "localhost:" + redis.Port() + "/steal:1"}, "the control plane's Redis"},
	}
	for _, tc := range cases {
		app, _ := c.newApp(t, project, tc.source)
		d := c.waitFinished(t, c.deploy(t, app), 2*time.Minute)
		if d.Status != "error" || !strings.Contains(d.Error, "refused by the platform's network guard") || !strings.Contains(d.Error, tc.want) {
			t.Errorf("%v: deployment %s %q, want a refusal naming %s", tc.source, d.Status, d.Error, tc.want)
		}
	}
}
