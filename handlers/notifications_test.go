package handlers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/e2e/testkit"
	"dokploy/jobs/notify"
)

const notifSecret = "whsec-handlers-0123456789-secret"

// hookSink is a local webhook receiver that checks each body's signature.
type hookSink struct {
	*httptest.Server
	mu       sync.Mutex
	payloads []notify.WebhookPayload
	badSig   int
}

func newHookSink(t *testing.T, secret string) *hookSink {
	s := &hookSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := notify.Verify(secret, r.Header.Get(notify.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
			s.badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p notify.WebhookPayload
		_ = json.Unmarshal(body, &p)
		s.payloads = append(s.payloads, p)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookSink) got() ([]notify.WebhookPayload, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.WebhookPayload{}, s.payloads...), s.badSig
}

func TestNotificationsAPI_ChannelsSecretsAndTest(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	sink := newHookSink(t, notifSecret)

	// Refused at the edge, with the field named.
	res, body := app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{
		"name": "hook", "kind": "webhook", "config": map[string]any{"url": "ftp://x", "secret": notifSecret}})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "url")
	res, body = app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{"name": "x", "kind": "pager"})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "kind")
	res, body = app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{
		"name": "hook", "kind": "webhook", "events": []string{"deploy.exploded"}, "config": map[string]any{"url": sink.URL, "secret": notifSecret}})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "events")
	res, body = app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{
		"name": "mail", "kind": "email", "config": map[string]any{"host": "smtp.example.com", "port": 99999, "from": "a@example.com", "to": []string{"b@example.com"}}})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "port")

	res, body = app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{
		"name": "hook", "kind": "webhook", "events": []string{"deploy.failed"}, "config": map[string]any{"url": sink.URL + "/in", "secret": notifSecret}})
	wantStatus(t, res, http.StatusCreated)
	testkit.MustNotContain(t, res.Body, notifSecret)
	id := int64(body["id"].(float64))
	if set, _ := body["secrets_set"].(map[string]any); set["secret"] != true {
		t.Errorf("secrets_set = %v; want secret: true", body["secrets_set"])
	}
	if cfg, _ := body["config"].(map[string]any); cfg["url"] != sink.URL+"/in" || cfg["secret"] != nil {
		t.Errorf("config = %v", cfg)
	}
	// Slack's URL carries its token: it is write-only too.
	res, _ = app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{
		"name": "slack", "kind": "slack", "events": []string{"backup.failed"}, "config": map[string]any{"url": "https://hooks.slack.com/services/T1/B2/slacksecrettoken"}})
	wantStatus(t, res, http.StatusCreated)
	testkit.MustNotContain(t, res.Body, "slacksecrettoken")
	res, _ = app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{
		"name": "hook", "kind": "gotify", "config": map[string]any{"url": "https://g.example.com", "token": "t"}})
	wantStatus(t, res, http.StatusConflict)

	res, body = app.apiJSON("GET", "/api/v1/notifications", token, nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, notifSecret, "slacksecrettoken")
	if items, _ := body["items"].([]any); len(items) != 2 {
		t.Fatalf("listed %d channels; want 2: %s", len(items), res.Body)
	}

	// PATCH without the secret keeps it: the test below still verifies.
	res, body = app.apiJSON("PATCH", fmt.Sprintf("/api/v1/notifications/%d", id), token, map[string]any{
		"name": "signed hook", "events": []string{"deploy.failed", "backup.failed"}, "config": map[string]any{"secret": ""}})
	wantStatus(t, res, http.StatusOK)
	if body["name"] != "signed hook" || len(body["events"].([]any)) != 2 {
		t.Errorf("patched = %s", res.Body)
	}
	res, body = app.apiJSON("PATCH", fmt.Sprintf("/api/v1/notifications/%d", id), token, map[string]any{"kind": "slack"})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "kind")

	res, body = app.apiJSON("POST", fmt.Sprintf("/api/v1/notifications/%d/test", id), token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["status"] != "sent" || body["event"] != "test" {
		t.Fatalf("test delivery = %s", res.Body)
	}
	got, bad := sink.got()
	if len(got) != 1 || bad != 0 || got[0].Type != notify.EventTest {
		t.Fatalf("sink got %+v (bad signatures %d)", got, bad)
	}

	// A failing test answers failed with the receiver's status.
	sink.Close()
	res, body = app.apiJSON("POST", fmt.Sprintf("/api/v1/notifications/%d/test", id), token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["status"] != "failed" || !strings.Contains(fmt.Sprint(body["last_error"]), "connection refused") {
		t.Errorf("test against a closed receiver = %s", res.Body)
	}

	res, body = app.apiJSON("GET", "/api/v1/notifications/deliveries?limit=1", token, nil)
	wantStatus(t, res, http.StatusOK)
	items, _ := body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["status"] != "failed" || body["limit"] != float64(1) {
		t.Errorf("deliveries page = %s", res.Body)
	}
	res, body = app.apiJSON("GET", "/api/v1/notifications/deliveries?offset=1", token, nil)
	if items, _ := body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["status"] != "sent" {
		t.Errorf("second page = %s", res.Body)
	}

	res, _ = app.apiJSON("DELETE", fmt.Sprintf("/api/v1/notifications/%d", id), token, nil)
	wantStatus(t, res, http.StatusNoContent)
	res, _ = app.apiJSON("GET", fmt.Sprintf("/api/v1/notifications/%d", id), token, nil)
	wantStatus(t, res, http.StatusNotFound)
	if n := app.count("notification_outbox"); n != 0 {
		t.Errorf("%d deliveries left after deleting their channel", n)
	}
	res, _ = app.apiJSON("GET", "/api/v1/notifications", "", nil)
	wantStatus(t, res, http.StatusUnauthorized)
}

func TestNotificationsPanel_AddTestDelete(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	sink := newHookSink(t, notifSecret)

	page := b.get("/settings")
	wantStatus(t, page, http.StatusOK)
	testkit.MustContain(t, page.Body, `id="settings-notifications"`, `hx-get="/settings/notifications"`)
	res := b.get("/settings/notifications")
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.doc(t).Find("#notifications-empty").Text(), "No notification channels yet")

	// The kind select reloads the form with that kind's fields.
	res = b.get("/settings/notifications/form?kind=email&name=mail")
	wantStatus(t, res, http.StatusOK)
	doc := res.doc(t)
	for _, f := range []string{"host", "port", "username", "password", "from", "to"} {
		if doc.Find(`#notification-form [name=`+f+`]`).Length() != 1 {
			t.Errorf("email form lacks %s:\n%s", f, testkit.Truncate(res.Body))
		}
	}
	if v, _ := doc.Find(`[name=name]`).Attr("value"); v != "mail" {
		t.Errorf("name %q not kept across the kind change", v)
	}
	if doc.Find(`[name=url]`).Length() != 0 {
		t.Error("email form shows a URL field")
	}

	// Refused: errors inline, typed values kept, the secret not echoed.
	form := url.Values{"kind": {"webhook"}, "name": {"hook"}, "url": {"gopher://x"}, "secret": {notifSecret}, "events": {"deploy.failed"}}
	res = b.postHTMX("/settings/notifications", form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustNotContain(t, res.Body, notifSecret)
	doc = res.doc(t)
	if doc.Find(`[name=url]`).Closest(".field.invalid").Find(".error-text").Text() == "" {
		t.Errorf("the URL is not marked invalid:\n%s", testkit.Truncate(res.Body))
	}
	if v, _ := doc.Find(`[name=url]`).Attr("value"); v != "gopher://x" {
		t.Errorf("url input %q, want it kept", v)
	}
	if _, ok := doc.Find(`[name=events][value="deploy.failed"]`).Attr("checked"); !ok {
		t.Error("the checked event was lost")
	}

	form.Set("url", sink.URL)
	res = b.postHTMX("/settings/notifications", form)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, notifSecret)
	doc = res.doc(t)
	row := doc.Find(`tr[data-channel="hook"]`)
	if row.Length() != 1 || !strings.Contains(row.Text(), "Webhook") || !strings.Contains(row.Text(), "deploy.failed") || !strings.Contains(row.Text(), "never") {
		t.Fatalf("channel row: %q", row.Text())
	}
	testPath, _ := row.Find(`button:contains("Test")`).Attr("hx-post")

	res = b.postHTMX(testPath, nil)
	wantStatus(t, res, http.StatusOK)
	doc = res.doc(t)
	testkit.MustContain(t, doc.Find("#notification-test-result").Text(), "Test message sent to hook")
	testkit.MustContain(t, doc.Find(`tr[data-channel="hook"] .badge.state-ok`).Text(), "sent")
	testkit.MustContain(t, doc.Find("table.notif-deliveries").Text(), "Test notification from Dokploy")
	if got, _ := sink.got(); len(got) != 1 {
		t.Errorf("sink got %d messages; want 1", len(got))
	}

	sink.Close()
	res = b.postHTMX(testPath, nil)
	doc = res.doc(t)
	testkit.MustContain(t, doc.Find("#notification-test-result").Text(), "Test to hook failed", "connection refused")
	testkit.MustContain(t, doc.Find("table.notif-deliveries .badge.state-bad").Text(), "failed")
	testkit.MustContain(t, doc.Find("table.notif-deliveries .error-text").Text(), "connection refused")

	delPath, _ := doc.Find(`tr[data-channel="hook"] button.danger`).Attr("hx-post")
	if confirm, _ := doc.Find(`tr[data-channel="hook"] button.danger`).Attr("hx-confirm"); !strings.Contains(confirm, "Delete the channel hook") {
		t.Errorf("delete confirm %q", confirm)
	}
	res = b.postHTMX(delPath, nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.doc(t).Find("#notifications-empty").Text(), "No notification channels yet")
}

func TestNotificationsCooldown_APIAndPanel(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	res, body := app.apiJSON("GET", "/api/v1/notifications/settings", token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["cooldown_minutes"] != float64(30) {
		t.Errorf("default cooldown = %s", res.Body)
	}
	res, body = app.apiJSON("PATCH", "/api/v1/notifications/settings", token, map[string]any{"cooldown_minutes": 0})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "cooldown_minutes")
	res, body = app.apiJSON("PATCH", "/api/v1/notifications/settings", token, map[string]any{"cooldown_minutes": 90})
	wantStatus(t, res, http.StatusOK)
	if body["cooldown_minutes"] != float64(90) {
		t.Errorf("patched = %s", res.Body)
	}

	b := app.login(adminEmail, adminPassword)
	if v, _ := b.get("/settings/notifications").doc(t).Find(`[name=cooldown_minutes]`).Attr("value"); v != "90" {
		t.Errorf("panel cooldown %q; want 90", v)
	}
	res = b.postHTMX("/settings/notifications/cooldown", url.Values{"cooldown_minutes": {"abc"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if res.doc(t).Find(`[name=cooldown_minutes]`).Closest(".field.invalid").Length() != 1 {
		t.Errorf("cooldown not marked invalid:\n%s", testkit.Truncate(res.Body))
	}
	res = b.postHTMX("/settings/notifications/cooldown", url.Values{"cooldown_minutes": {"15"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "at most once every 15 minutes")
	if d, err := app.store.NotificationCooldown(t.Context()); err != nil || d != 15*time.Minute {
		t.Errorf("stored cooldown %s, %v", d, err)
	}
}

// TestNotificationChannelPage: the channel's own page edits its events
// and projects (a rejected edit keeps what was typed and changes
// nothing), sends a test and lists its deliveries with the provider's
// answer; the API shows and sets the same projects.
func TestNotificationChannelPage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	b := app.login(adminEmail, adminPassword)
	sink := newHookSink(t, notifSecret)
	shop, blog := app.createProject("shop"), app.createProject("blog")

	res, body := app.apiJSON("POST", "/api/v1/notifications", token, map[string]any{"name": "hook", "kind": "webhook",
		"events": []string{"deploy.failed"}, "projects": []int64{shop.ID}, "config": map[string]any{"url": sink.URL, "secret": notifSecret}})
	wantStatus(t, res, http.StatusCreated)
	if fmt.Sprint(body["projects"]) != fmt.Sprintf("[%d]", shop.ID) {
		t.Fatalf("projects %v; want [%d]", body["projects"], shop.ID)
	}
	id := int64(body["id"].(float64))
	res, _ = app.apiJSON("PATCH", fmt.Sprintf("/api/v1/notifications/%d", id), token, map[string]any{"projects": []int64{999999}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "no project with id 999999")

	path := fmt.Sprintf("/settings/notifications/%d", id)
	settings := b.get("/settings/notifications")
	if href, _ := settings.doc(t).Find(`tr[data-channel="hook"] a`).First().Attr("href"); href != path {
		t.Errorf("the channel row links to %q; want %q", href, path)
	}
	page := b.get(path)
	wantStatus(t, page, http.StatusOK)
	doc := page.doc(t)
	testkit.MustContain(t, doc.Find("h1").Text(), "hook")
	testkit.MustContain(t, doc.Find("#channel-deliveries-empty").Text(), "No deliveries yet")
	testkit.MustNotContain(t, page.Body, notifSecret)
	if _, ok := doc.Find(fmt.Sprintf(`[name=projects][value="%d"]`, shop.ID)).Attr("checked"); !ok {
		t.Error("the shop project is not ticked")
	}
	if v, _ := doc.Find(`[name=url]`).Attr("value"); v != sink.URL {
		t.Errorf("url field %q; want %q", v, sink.URL)
	}

	// Rejected: the typed name and ticks stay, nothing is saved.
	form := url.Values{"name": {""}, "url": {sink.URL}, "events": {"deploy.failed", "alert.firing"},
		"projects": {strconv.FormatInt(blog.ID, 10)}}
	res = b.postHTMX(path, form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	doc = res.doc(t)
	testkit.MustContain(t, doc.Find(`[name=name]`).Closest(".field").Find(".error-text").Text(), "name")
	if _, ok := doc.Find(`[name=events][value="alert.firing"]`).Attr("checked"); !ok {
		t.Error("the ticked event was lost")
	}
	if _, ok := doc.Find(fmt.Sprintf(`[name=projects][value="%d"]`, blog.ID)).Attr("checked"); !ok {
		t.Error("the ticked project was lost")
	}
	_, body = app.apiJSON("GET", fmt.Sprintf("/api/v1/notifications/%d", id), token, nil)
	if body["name"] != "hook" || fmt.Sprint(body["projects"]) != fmt.Sprintf("[%d]", shop.ID) {
		t.Errorf("a rejected edit changed the channel: %v", body)
	}

	// Saved: the secret left empty keeps the stored one.
	form.Set("name", "hook2")
	res = b.postHTMX(path, form)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.doc(t).Find(".flash.ok").Text(), "Saved hook2")
	_, body = app.apiJSON("GET", fmt.Sprintf("/api/v1/notifications/%d", id), token, nil)
	if body["name"] != "hook2" || fmt.Sprint(body["projects"]) != fmt.Sprintf("[%d]", blog.ID) || fmt.Sprint(body["events"]) != "[deploy.failed alert.firing]" {
		t.Errorf("after save: %v", body)
	}

	// Send test on the page answers with the page body and the delivery.
	pageTest := func() *response {
		return b.postFormRaw(path+"/test", nil, "HX-Request", "true", "HX-Target", "notification-channel", "X-CSRF-Token", b.csrf())
	}
	res = pageTest()
	wantStatus(t, res, http.StatusOK)
	doc = res.doc(t)
	testkit.MustContain(t, doc.Find("#notification-test-result").Text(), "Test message sent to hook2")
	testkit.MustContain(t, doc.Find("#channel-deliveries .badge.state-ok").Text(), "sent")
	if got, bad := sink.got(); len(got) != 1 || bad != 0 {
		t.Errorf("sink got %d messages (%d badly signed); want 1", len(got), bad)
	}
	sink.Close()
	testkit.MustContain(t, pageTest().doc(t).Find("#notification-test-result").Text(), "Test to hook2 failed")
	list := b.get(path + "/deliveries")
	wantStatus(t, list, http.StatusOK)
	doc = list.doc(t)
	if n := doc.Find("tr[data-delivery]").Length(); n != 2 {
		t.Errorf("%d deliveries listed; want 2", n)
	}
	testkit.MustContain(t, doc.Find(".badge.state-bad").Text(), "failed")
	testkit.MustContain(t, doc.Find(".error-text").Text(), "connection refused")
}
