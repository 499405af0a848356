package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// TestRuntimeLogs deploys an app whose container prints a known line and
// reads it back through the logs API (tail, search, download), and checks
// the Swarm service rotates its json-file log as the settings say.
func TestRuntimeLogs(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	image := resScratchImage(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	c.mustAPI(t, "PATCH", "/api/v1/settings/logs", map[string]any{"max_size": "5m", "max_file": 2}, http.StatusOK, nil)
	project := c.newProject(t)
	app, name := c.newApp(t, project, map[string]any{"type": "image", "image": image})
	if d := c.waitFinished(t, c.deploy(t, app), 3*time.Minute); d.Status != "done" {
		t.Fatalf("deploy: %s %s", d.Status, d.Error)
	}

	out, err := exec.Command("docker", "service", "inspect", "--format", "{{json .Spec.TaskTemplate.LogDriver}}", name).CombinedOutput()
	if err != nil {
		t.Fatalf("service inspect: %v %s", err, out)
	}
	var drv struct {
		Name    string
		Options map[string]string
	}
	if err := json.Unmarshal(out, &drv); err != nil || drv.Name != "json-file" || drv.Options["max-size"] != "5m" || drv.Options["max-file"] != "2" {
		t.Fatalf("log driver %s (%v)", out, err)
	}

	type logs struct {
		Lines []struct {
			TS      time.Time `json:"ts"`
			Replica int       `json:"replica"`
			Stream  string    `json:"stream"`
			Text    string    `json:"text"`
		} `json:"lines"`
		Truncated bool `json:"truncated"`
	}
	base := fmt.Sprintf("/api/v1/services/app/%d/logs", app)
	const want = "listening on 8080"
	var got logs
	deadline := time.Now().Add(time.Minute)
	for {
		c.mustAPI(t, "GET", base+"?tail=50", nil, http.StatusOK, &got)
		found := false
		for _, l := range got.Lines {
			if strings.Contains(l.Text, want) {
				found = true
				if l.Stream != "stdout" || l.Replica != 1 || l.TS.IsZero() {
					t.Errorf("line %+v", l)
				}
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs: %+v", want, got)
		}
		time.Sleep(time.Second)
	}
	c.mustAPI(t, "GET", base+"?q=LISTENING+ON", nil, http.StatusOK, &got)
	if len(got.Lines) == 0 || !strings.Contains(got.Lines[0].Text, want) {
		t.Errorf("q=LISTENING ON: %+v", got)
	}
	c.mustAPI(t, "GET", base+"?q=no-such-line-"+srvRandomHex(4), nil, http.StatusOK, &got)
	if len(got.Lines) != 0 {
		t.Errorf("non-matching q: %+v", got)
	}
	c.mustAPI(t, "GET", base+"?regex=1&q=listen.*%5Cd%2B", nil, http.StatusOK, &got)
	if len(got.Lines) == 0 {
		t.Errorf("regex: %+v", got)
	}

	req, _ := http.NewRequest("GET", c.URL+base+"?download=1&timestamps=0", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, "")
	buf := make([]byte, 1<<16)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != 200 || cd != `attachment; filename="`+name+`-logs.txt"` ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(b.String(), want) {
		t.Errorf("download: %d %q %q %q", resp.StatusCode, cd, resp.Header.Get("Content-Type"), b.String())
	}
}
