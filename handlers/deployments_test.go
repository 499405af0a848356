package handlers

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/e2e/testkit"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ ID, Event, Data string }

// readEvents reads events from an SSE response until stop returns true or
// the stream ends.
func readEvents(t *testing.T, resp *http.Response, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Event != "" {
				out = append(out, cur)
				if stop(cur) {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = strings.TrimPrefix(line, "data: ")
		}
	}
	return out
}

func (b *browser) stream(path, lastEventID string) *http.Response {
	b.app.t.Helper()
	req := b.newRequest(http.MethodGet, path, nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	client := *b.client
	client.Timeout = 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	b.app.t.Cleanup(cancel)
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		b.app.t.Fatal(err)
	}
	b.app.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b.app.t.Fatalf("stream %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp
}

func (a *testApp) runningDeployment() *db.Deployment {
	a.t.Helper()
	ctx := context.Background()
	p := a.createProject("logs")
	app := &db.App{EnvironmentID: p.Environments[0].ID, Name: "web", AppName: "logs-web", SourceType: db.SourceImage,
		Image: "busybox:latest", Port: 80, Replicas: 1}
	if err := a.store.CreateApp(ctx, app); err != nil {
		a.t.Fatal(err)
	}
	d, err := a.store.CreateDeployment(ctx, app.ID, "user", "test")
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.store.ClaimDeployment(ctx, d.ID, "test-worker"); err != nil {
		a.t.Fatal(err)
	}
	return d
}

func TestDeploymentStream_InOrderLiveAndResumes(t *testing.T) {
	a := newTestApp(t)
	b := a.setupAdmin()
	ctx := context.Background()
	d := a.runningDeployment()
	var first []string
	for i := 1; i <= 5; i++ {
		first = append(first, fmt.Sprintf("line %d <b>", i))
	}
	if err := a.store.AppendLogs(ctx, d.ID, 1, first); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/deployments/%d/stream", d.ID)

	// Stored lines arrive first, in order, HTML-escaped, with their sequence as id.
	resp := b.stream(path, "")
	got := readEvents(t, resp, func(e sseEvent) bool { return e.ID == "5" })
	for i, e := range got {
		if e.Event != "line" || e.ID != strconv.Itoa(i+1) || !strings.Contains(e.Data, fmt.Sprintf("line %d &lt;b&gt;", i+1)) {
			t.Fatalf("event %d = %+v", i, e)
		}
	}
	// Lines stored while the browser watches arrive live, then eof when finished.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = a.store.AppendLogs(ctx, d.ID, 6, []string{"line 6", "line 7"})
		_ = a.store.FinishDeployment(ctx, d.ID, db.DeployDone, "")
	}()
	rest := readEvents(t, resp, func(e sseEvent) bool { return e.Event == "eof" })
	if len(rest) != 3 || rest[0].ID != "6" || rest[1].ID != "7" || rest[2].Event != "eof" || rest[2].Data != "done" {
		t.Fatalf("live events = %+v", rest)
	}

	// A reconnect with Last-Event-ID resumes after it: no gap, no repeat.
	resumed := readEvents(t, b.stream(path, "4"), func(e sseEvent) bool { return e.Event == "eof" })
	var ids []string
	for _, e := range resumed {
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, ",") != "5,6,7," {
		t.Fatalf("resumed ids = %q, want 5,6,7 then eof", strings.Join(ids, ","))
	}
}

func TestDeploymentStream_NeedsLogin(t *testing.T) {
	a := newTestApp(t)
	a.setupAdmin()
	d := a.runningDeployment()
	res := a.browser().get(fmt.Sprintf("/deployments/%d/stream", d.ID))
	if res.Code != http.StatusSeeOther || !strings.Contains(res.location(), "/login") {
		t.Fatalf("anonymous stream: %d %s", res.Code, res.location())
	}
}

func TestDeploymentCancel_QueuedAndPlainTextLogs(t *testing.T) {
	a := newTestApp(t)
	b := a.setupAdmin()
	_, token, err := a.store.CreateAPIToken(context.Background(), 1, "t", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	d := a.runningDeployment()
	if err := a.store.AppendLogs(context.Background(), d.ID, 1, []string{"first", "second"}); err != nil {
		t.Fatal(err)
	}
	res, _ := b.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/deployments/%d/logs", d.ID), token, nil)
	if res.Code != http.StatusOK || res.Body != "first\nsecond\n" {
		t.Fatalf("logs: %d %q", res.Code, res.Body)
	}
	// Cancelling a running deployment flags it for its worker.
	res, body := b.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/deployments/%d/cancel", d.ID), token, nil)
	if res.Code != http.StatusOK || body["status"] != "running" {
		t.Fatalf("cancel running: %d %v", res.Code, body)
	}
	if yes, _ := a.store.CancelRequested(context.Background(), d.ID); !yes {
		t.Fatal("cancel was not recorded for the worker")
	}
	// A queued deployment is cancelled at once.
	q, err := a.store.CreateDeployment(context.Background(), d.ServiceID, "user", "test")
	if err != nil {
		t.Fatal(err)
	}
	res, body = b.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/deployments/%d/cancel", q.ID), token, nil)
	if res.Code != http.StatusOK || body["status"] != "cancelled" {
		t.Fatalf("cancel queued: %d %v", res.Code, body)
	}
	res, _ = b.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/deployments/%d/cancel", q.ID), token, nil)
	if res.Code != http.StatusConflict {
		t.Fatalf("cancel finished: %d %s", res.Code, res.Body)
	}
}

// The moment the new version started serving is its own field in the API
// and a line on the deployment page, apart from the settled duration.
func TestDeploymentServing_InAPIAndPage(t *testing.T) {
	a := newTestApp(t)
	b := a.setupAdmin()
	ctx := context.Background()
	_, token, err := a.store.CreateAPIToken(ctx, 1, "t", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	d := a.runningDeployment()
	res, body := b.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/deployments/%d", d.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	if v, ok := body["serving_at"]; !ok || v != nil {
		t.Fatalf("before serving: serving_at = %v (present %v), want null", v, ok)
	}
	testkit.MustNotContain(t, b.get(fmt.Sprintf("/deployments/%d", d.ID)).Body, "after the request")

	at := d.CreatedAt.Add(2300 * time.Millisecond)
	if err := a.store.SetDeploymentServing(ctx, d.ID, at); err != nil {
		t.Fatal(err)
	}
	// Only the first moment counts.
	if err := a.store.SetDeploymentServing(ctx, d.ID, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	res, body = b.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/deployments/%d", d.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	got, err := time.Parse(time.RFC3339Nano, fmt.Sprint(body["serving_at"]))
	if err != nil || !got.Equal(at) {
		t.Fatalf("serving_at = %v (%v), want %v", body["serving_at"], err, at)
	}
	page := b.get(fmt.Sprintf("/deployments/%d", d.ID))
	wantStatus(t, page, http.StatusOK)
	if text := uiText(t, page); !strings.Contains(text, "Serving2.3s after the request") {
		t.Errorf("deployment page does not show the serving time: %s", testkit.Truncate(text))
	}
}

// The Deployments tab's history polls every 10 s while nothing runs and
// every 2 s while a deployment is queued or running; Deploy in the header
// makes it refresh at once.
func TestAppDeploymentsTable_PollsFastOnlyWhileADeploymentIsPending(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.setupAdmin()
	app := a.createImageApp(a.createProject("shop"), "web")
	table := fmt.Sprintf("/apps/%d/deployments/table", app.ID)
	trigger := func() string {
		t.Helper()
		res := b.get(table)
		wantStatus(t, res, http.StatusOK)
		return res.doc(t).Find("#app-deployments").AttrOr("hx-trigger", "")
	}
	if got := trigger(); got != "every 10s, deploy-queued from:body" {
		t.Errorf("idle history polls with %q, want every 10s and on deploy-queued", got)
	}
	res := b.postHTMX(fmt.Sprintf("/apps/%d/deploy", app.ID), nil)
	wantStatus(t, res, http.StatusOK)
	if got := res.Header.Get("HX-Trigger"); got != "deploy-queued" {
		t.Errorf("Deploy answers HX-Trigger %q, want deploy-queued", got)
	}
	if got := trigger(); got != "every 2s, deploy-queued from:body" {
		t.Errorf("history with a queued deployment polls with %q, want every 2s", got)
	}
}
