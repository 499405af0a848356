package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs/netguard"
)

const testSecret = "whsec-0123456789abcdef-very-secret"

// receiver is a local HTTP endpoint that records what it gets and answers
// with the status codes in plan, then 200.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []recorded
	plan  []int
	reply string
}

type recorded struct {
	Path    string
	Header  http.Header
	Body    []byte
	Answer  int
	Payload map[string]any
}

func newReceiver(t *testing.T, plan ...int) *receiver {
	r := &receiver{plan: plan}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		code := http.StatusOK
		if len(r.plan) > 0 {
			code, r.plan = r.plan[0], r.plan[1:]
		}
		rec := recorded{Path: req.URL.RequestURI(), Header: req.Header.Clone(), Body: body, Answer: code}
		_ = json.Unmarshal(body, &rec.Payload)
		r.reqs = append(r.reqs, rec)
		reply := r.reply
		r.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded{}, r.reqs...)
}

func addChannel(t *testing.T, store *db.Store, name, kind string, cfg Config, events ...string) *db.NotificationChannel {
	t.Helper()
	if errs := cfg.Validate(kind); len(errs) > 0 {
		t.Fatalf("config of %s refused: %v", name, errs)
	}
	ch := &db.NotificationChannel{Name: name, Kind: kind, Events: events, Enabled: true}
	if err := store.CreateNotificationChannel(context.Background(), ch, EncodeConfig(&cfg)); err != nil {
		t.Fatal(err)
	}
	return ch
}

// drain sends due rows until none is left or the deadline passes.
func drain(t *testing.T, n *Notifier, until func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := n.SendDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if until() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("timed out waiting for deliveries")
}

func deliveries(t *testing.T, store *db.Store) []db.Notification {
	t.Helper()
	list, err := store.Notifications(context.Background(), 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// verifyLikeAReceiver is the README's verification recipe, written
// independently of Sign: HMAC-SHA256 over "<t>.<body>".
func verifyLikeAReceiver(secret, header string, body []byte) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal([]byte("sha256="+hex.EncodeToString(mac.Sum(nil))), []byte(header))
}

func TestNotify_WebhookSignedEnvelope(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	rcv := newReceiver(t)
	addChannel(t, store, "hook", KindWebhook, Config{URL: rcv.URL + "/hooks/dokploy", Secret: testSecret}, EventDeployFailed)
	n := New(store, netguard.New())

	queued, err := n.Notify(ctx, Event{Name: EventDeployFailed, Title: "Deployment of shop failed", Body: "image not found",
		URL: "https://dokploy.example.com/deployments/7", Severity: SeverityError})
	if err != nil || queued != 1 {
		t.Fatalf("Notify = %d, %v; want 1 row", queued, err)
	}
	// An event no channel subscribed to queues nothing.
	if queued, err := n.Notify(ctx, Event{Name: EventBackupSucceeded, Title: "x"}); err != nil || queued != 0 {
		t.Fatalf("unsubscribed event queued %d rows (%v)", queued, err)
	}
	drain(t, n, func() bool { return len(rcv.requests()) == 1 })

	got := rcv.requests()[0]
	if got.Path != "/hooks/dokploy" || got.Header.Get("Content-Type") != "application/json" || got.Header.Get("X-Dokploy-Event") != EventDeployFailed {
		t.Errorf("request: path %q, content type %q, event %q", got.Path, got.Header.Get("Content-Type"), got.Header.Get("X-Dokploy-Event"))
	}
	sig := got.Header.Get(SignatureHeader)
	if !verifyLikeAReceiver(testSecret, sig, got.Body) {
		t.Errorf("signature %q does not verify with the documented algorithm", sig)
	}
	if verifyLikeAReceiver("another-secret-0123456789", sig, got.Body) {
		t.Error("signature verifies with a wrong secret")
	}
	if err := Verify(testSecret, sig, got.Body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := Verify(testSecret, sig, append(got.Body, ' '), time.Now(), 5*time.Minute); err == nil {
		t.Error("Verify accepted a changed body")
	}
	p := got.Payload
	if p["type"] != EventDeployFailed || p["title"] != "Deployment of shop failed" || p["body"] != "image not found" ||
		p["url"] != "https://dokploy.example.com/deployments/7" || p["severity"] != SeverityError || p["id"] == nil || p["occurred_at"] == nil {
		t.Errorf("payload = %v", p)
	}
	list := deliveries(t, store)
	if len(list) != 1 || list[0].Status != db.NotifySent || list[0].Attempts != 1 || list[0].SentAt == nil {
		t.Fatalf("deliveries = %+v", list)
	}
}

func TestNotify_WebhookRetriesThenDeliversOnce(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	rcv := newReceiver(t, http.StatusInternalServerError, http.StatusBadGateway)
	addChannel(t, store, "flaky", KindWebhook, Config{URL: rcv.URL, Secret: testSecret}, EventDeployFailed)
	n := New(store, netguard.New(), WithBackoff(20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond))
	if _, err := n.Notify(ctx, Event{Name: EventDeployFailed, Title: "failed"}); err != nil {
		t.Fatal(err)
	}
	// The first attempt fails and schedules a retry, not sooner than the backoff.
	if _, err := n.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	row := deliveries(t, store)[0]
	if row.Status != db.NotifyPending || row.Attempts != 1 || !strings.Contains(row.LastError, "HTTP 500") {
		t.Fatalf("after one failure: %+v", row)
	}
	drain(t, n, func() bool { return deliveries(t, store)[0].Status == db.NotifySent })

	reqs := rcv.requests()
	var ok, ids int
	seen := map[any]bool{}
	for _, r := range reqs {
		if r.Answer == http.StatusOK {
			ok++
		}
		if !seen[r.Payload["id"]] {
			seen[r.Payload["id"]] = true
			ids++
		}
	}
	if len(reqs) != 3 || ok != 1 || ids != 1 {
		t.Fatalf("receiver got %d requests, %d accepted, %d distinct ids; want 3, 1, 1", len(reqs), ok, ids)
	}
	row = deliveries(t, store)[0]
	if row.Attempts != 3 || row.LastError != "" {
		t.Errorf("sent row: attempts %d, last error %q", row.Attempts, row.LastError)
	}
	// Nothing is left to send.
	if more, err := n.SendDue(ctx); err != nil || more {
		t.Errorf("SendDue after delivery = %v, %v", more, err)
	}
}

func TestNotify_WebhookAlwaysFailingEndsFailedWithoutSecret(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	rcv := newReceiver(t, 503, 503, 503, 503, 503, 503)
	// A provider that echoes what it got must not make the secret show.
	rcv.reply = "upstream down; secret was " + testSecret
	addChannel(t, store, "down", KindWebhook, Config{URL: rcv.URL, Secret: testSecret}, EventBackupFailed)
	n := New(store, netguard.New(), WithBackoff(time.Millisecond, time.Millisecond))
	if _, err := n.Notify(ctx, Event{Name: EventBackupFailed, Title: "backup failed"}); err != nil {
		t.Fatal(err)
	}
	drain(t, n, func() bool { return deliveries(t, store)[0].Status == db.NotifyFailed })
	row := deliveries(t, store)[0]
	if row.Attempts != 3 || len(rcv.requests()) != 3 {
		t.Errorf("attempts %d, requests %d; want 3 (one try and two retries)", row.Attempts, len(rcv.requests()))
	}
	if !strings.Contains(row.LastError, "HTTP 503") {
		t.Errorf("last error %q lacks the status code", row.LastError)
	}
	if strings.Contains(row.LastError, testSecret) || !strings.Contains(row.LastError, db.SecretMask) {
		t.Errorf("last error %q shows the secret (or did not mask it)", row.LastError)
	}
}

func TestNotify_ProviderRequestShapes(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	rcv := newReceiver(t)
	ev := Event{Name: EventDeployFailed, Title: "Deployment of shop failed", Body: "no such image <x>", URL: "https://dash.example.com/deployments/9", Severity: SeverityError}
	cases := []struct {
		kind  string
		cfg   Config
		check func(t *testing.T, r recorded)
	}{
		{KindSlack, Config{URL: rcv.URL + "/services/T000/B000/slacktoken123"}, func(t *testing.T, r recorded) {
			text, _ := r.Payload["text"].(string)
			if r.Path != "/services/T000/B000/slacktoken123" || r.Header.Get("Content-Type") != "application/json" ||
				!strings.Contains(text, "*Deployment of shop failed*") || !strings.Contains(text, "no such image &lt;x&gt;") ||
				!strings.Contains(text, "<https://dash.example.com/deployments/9|Open in Dokploy>") {
				t.Errorf("slack: %s %s", r.Path, r.Body)
			}
		}},
		{KindDiscord, Config{URL: rcv.URL + "/api/webhooks/123/discordtoken"}, func(t *testing.T, r recorded) {
			embeds, _ := r.Payload["embeds"].([]any)
			if r.Path != "/api/webhooks/123/discordtoken" || len(embeds) != 1 {
				t.Fatalf("discord: %s %s", r.Path, r.Body)
			}
			e := embeds[0].(map[string]any)
			if e["title"] != ev.Title || e["description"] != ev.Body || e["url"] != ev.URL || e["color"] != float64(0xd93f3f) {
				t.Errorf("discord embed = %v", e)
			}
		}},
		{KindTelegram, Config{Token: "123456:ABCdefSecret", ChatID: "-100200300"}, func(t *testing.T, r recorded) {
			if r.Path != "/bot123456:ABCdefSecret/sendMessage" || r.Payload["chat_id"] != "-100200300" || r.Payload["parse_mode"] != "HTML" {
				t.Errorf("telegram: %s %s", r.Path, r.Body)
			}
			text, _ := r.Payload["text"].(string)
			if !strings.Contains(text, "<b>Deployment of shop failed</b>") || !strings.Contains(text, "no such image &lt;x&gt;") ||
				!strings.Contains(text, `<a href="https://dash.example.com/deployments/9">`) {
				t.Errorf("telegram text = %q", text)
			}
		}},
		{KindNtfy, Config{URL: rcv.URL + "/", Topic: "deploys", Token: "tk_ntfysecret"}, func(t *testing.T, r recorded) {
			h := r.Header
			if r.Path != "/deploys" || h.Get("Title") != ev.Title || h.Get("Priority") != "4" || h.Get("Click") != ev.URL ||
				h.Get("Authorization") != "Bearer tk_ntfysecret" || h.Get("Tags") == "" || string(r.Body) != ev.Body {
				t.Errorf("ntfy: %s %v %q", r.Path, h, r.Body)
			}
		}},
		{KindGotify, Config{URL: rcv.URL, Token: "AgotifyAppToken"}, func(t *testing.T, r recorded) {
			if r.Path != "/message" || r.Header.Get("X-Gotify-Key") != "AgotifyAppToken" || r.Payload["title"] != ev.Title ||
				r.Payload["message"] != ev.Body || r.Payload["priority"] != float64(8) {
				t.Errorf("gotify: %s %v %s", r.Path, r.Header, r.Body)
			}
			extras, _ := r.Payload["extras"].(map[string]any)
			click, _ := extras["client::notification"].(map[string]any)["click"].(map[string]any)
			if click["url"] != ev.URL {
				t.Errorf("gotify extras = %v", extras)
			}
		}},
	}
	n := New(store, netguard.New(), withTelegramAPI(rcv.URL))
	for _, c := range cases {
		addChannel(t, store, c.kind, c.kind, c.cfg, EventDeployFailed)
	}
	if queued, err := n.Notify(ctx, ev); err != nil || queued != len(cases) {
		t.Fatalf("Notify queued %d, %v; want %d", queued, err, len(cases))
	}
	drain(t, n, func() bool { return len(rcv.requests()) == len(cases) })
	reqs := rcv.requests()
	for i, c := range cases {
		t.Run(c.kind, func(t *testing.T) { c.check(t, reqs[i]) })
		if reqs[i].Header.Get("User-Agent") != "Dokploy-Notifications/1" {
			t.Errorf("%s: user agent %q", c.kind, reqs[i].Header.Get("User-Agent"))
		}
	}
	for _, d := range deliveries(t, store) {
		if d.Status != db.NotifySent {
			t.Errorf("%s: %s %s", d.ChannelKind, d.Status, d.LastError)
		}
	}
}

func TestNotify_CooldownQueuesOnce(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	addChannel(t, store, "a", KindSlack, Config{URL: "https://hooks.slack.com/services/T/B/x"}, EventDeployFailed)
	addChannel(t, store, "b", KindGotify, Config{URL: "https://gotify.example.com", Token: "t0k3n"}, EventDeployFailed)
	n := New(store, netguard.New())
	ev := Event{Name: EventDeployFailed, Title: "web is crash-looping", DedupeKey: "crash:app:7"}
	for i, want := range []int{2, 0, 0} {
		if got, err := n.Notify(ctx, ev); err != nil || got != want {
			t.Fatalf("Notify #%d queued %d (%v); want %d", i+1, got, err, want)
		}
	}
	if got, _ := n.Notify(ctx, Event{Name: EventDeployFailed, Title: "other", DedupeKey: "crash:app:8"}); got != 2 {
		t.Errorf("another key queued %d; want 2", got)
	}
	// Once the window (a setting) is over, the same key notifies again.
	if err := store.SetSetting(ctx, db.SettingNotificationCooldown, "5"); err != nil {
		t.Fatal(err)
	}
	dbtest.MustExec(t, store, `UPDATE notification_outbox SET created_at = now() - interval '6 minutes' WHERE dedupe_key = 'crash:app:7'`)
	if got, _ := n.Notify(ctx, ev); got != 2 {
		t.Errorf("after the cooldown queued %d; want 2", got)
	}
	// A failed delivery does not hold the key: the next one is queued.
	dbtest.MustExec(t, store, `UPDATE notification_outbox SET status = 'failed' WHERE dedupe_key = 'crash:app:8'`)
	if got, _ := n.Notify(ctx, Event{Name: EventDeployFailed, Title: "other", DedupeKey: "crash:app:8"}); got != 2 {
		t.Errorf("after failed deliveries queued %d; want 2", got)
	}
	// A disabled channel gets nothing.
	dbtest.MustExec(t, store, `UPDATE notification_channels SET enabled = false WHERE name = 'b'`)
	if got, _ := n.Notify(ctx, Event{Name: EventDeployFailed, Title: "third"}); got != 1 {
		t.Errorf("with one channel disabled queued %d; want 1", got)
	}
}

func TestNotify_GuardRefusesMetadataAndControlPlane(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	guard := netguard.New(netguard.Service{Name: "the control plane's Redis", Host: "127.0.0.1", Port: 6379})
	n := New(store, guard)
	meta := addChannel(t, store, "metadata", KindWebhook, Config{URL: "http://169.254.169.254/latest/meta-data/", Secret: testSecret})
	redis := addChannel(t, store, "redis", KindGotify, Config{URL: "http://127.0.0.1:6379", Token: "gotifysecret"})
	smtpRedis := addChannel(t, store, "smtp-redis", KindEmail, Config{Host: "127.0.0.1", Port: 6379, From: "a@example.com", To: []string{"b@example.com"}})
	for _, c := range []struct {
		ch   *db.NotificationChannel
		want string
	}{
		{meta, "169.254.169.254:80 is a link-local address"},
		{redis, "127.0.0.1:6379 is the control plane's Redis"},
		{smtpRedis, "127.0.0.1:6379 is the control plane's Redis"},
	} {
		row, err := n.SendTest(ctx, c.ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.Status != db.NotifyFailed || !strings.Contains(row.LastError, "network guard") || !strings.Contains(row.LastError, c.want) {
			t.Errorf("%s: status %s, error %q; want failed with %q", c.ch.Name, row.Status, row.LastError, c.want)
		}
		if strings.Contains(row.LastError, "gotifysecret") {
			t.Errorf("%s: error shows the token: %q", c.ch.Name, row.LastError)
		}
	}
}

func TestNotify_RedirectToAnotherHostRefused(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	ch := addChannel(t, store, "redir", KindSlack, Config{URL: redirect.URL + "/services/T/B/tok3nvalue"})
	row, err := New(store, netguard.New()).SendTest(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Status != db.NotifyFailed || !strings.Contains(row.LastError, "refused a redirect to another host") || hits.Load() != 0 {
		t.Errorf("status %s, error %q, other host hit %d times", row.Status, row.LastError, hits.Load())
	}
	if strings.Contains(row.LastError, "tok3nvalue") {
		t.Errorf("error shows the webhook URL's token: %q", row.LastError)
	}
}

func TestNotify_TwoSendersDeliverEachRowOnce(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rcv := newReceiver(t)
	addChannel(t, store, "hook", KindWebhook, Config{URL: rcv.URL, Secret: testSecret}, EventDeploySucceeded)
	a := New(store, netguard.New(), WithPollInterval(5*time.Millisecond))
	b := New(store, netguard.New(), WithPollInterval(5*time.Millisecond))
	const total = 30
	for i := 0; i < total; i++ {
		if _, err := a.Notify(ctx, Event{Name: EventDeploySucceeded, Title: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	go a.Run(ctx)
	go b.Run(ctx)
	deadline := time.Now().Add(15 * time.Second)
	for len(rcv.requests()) < total && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a duplicate would arrive now
	counts := map[any]int{}
	for _, r := range rcv.requests() {
		counts[r.Payload["id"]]++
	}
	if len(rcv.requests()) != total || len(counts) != total {
		t.Fatalf("receiver got %d requests for %d ids; want %d each once", len(rcv.requests()), len(counts), total)
	}
}

func TestConfig_Validate(t *testing.T) {
	cases := []struct {
		kind  string
		cfg   Config
		field string // "" means valid
	}{
		{KindWebhook, Config{URL: "https://example.com/hook", Secret: testSecret}, ""},
		{KindWebhook, Config{URL: "ftp://example.com/hook", Secret: testSecret}, "url"},
		{KindWebhook, Config{URL: "https:///nohost", Secret: testSecret}, "url"},
		{KindWebhook, Config{URL: "https://example.com:99999/", Secret: testSecret}, "url"},
		{KindWebhook, Config{URL: "https://example.com/hook", Secret: "short"}, "secret"},
		{KindWebhook, Config{Secret: testSecret}, "url"},
		{KindSlack, Config{URL: "javascript:alert(1)"}, "url"},
		{KindTelegram, Config{Token: "123:abc", ChatID: "-100123"}, ""},
		{KindTelegram, Config{Token: "123:abc", ChatID: "@my_channel"}, ""},
		{KindTelegram, Config{Token: "123:abc/../x", ChatID: "1"}, "token"},
		{KindTelegram, Config{Token: "123:abc", ChatID: "not a chat"}, "chat_id"},
		{KindNtfy, Config{URL: "https://ntfy.sh", Topic: "a/b"}, "topic"},
		{KindGotify, Config{URL: "https://g.example.com"}, "token"},
		{KindEmail, Config{Host: "smtp.example.com", Port: 587, From: "a@example.com", To: []string{"b@example.com"}}, ""},
		{KindEmail, Config{Host: "smtp.example.com", Port: 70000, From: "a@example.com", To: []string{"b@example.com"}}, "port"},
		{KindEmail, Config{Host: "smtp.example.com:25", Port: 25, From: "a@example.com", To: []string{"b@example.com"}}, "host"},
		{KindEmail, Config{Host: "smtp.example.com", Port: 25, From: "a@example.com\r\nBcc: x@evil.com", To: []string{"b@example.com"}}, "from"},
		{KindEmail, Config{Host: "smtp.example.com", Port: 25, From: "a@example.com", To: []string{"not-an-address"}}, "to"},
	}
	for _, c := range cases {
		errs := c.cfg.Validate(c.kind)
		if c.field == "" && len(errs) > 0 || c.field != "" && errs[c.field] == "" {
			t.Errorf("%s %+v: errors %v; want error on %q", c.kind, c.cfg, errs, c.field)
		}
	}
	// Fields a kind does not use are not stored.
	cfg := Config{URL: "https://hooks.slack.com/services/x", Password: "p", Host: "h"}
	cfg.Validate(KindSlack)
	if cfg.Password != "" || cfg.Host != "" {
		t.Errorf("unused fields kept: %+v", cfg)
	}
}
