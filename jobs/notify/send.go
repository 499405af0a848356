package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"dokploy/db"
	"dokploy/jobs/netguard"
)

// SignatureHeader carries the webhook body's signature:
// "sha256=<hex HMAC-SHA256 of the body keyed by the channel's secret>".
// The body's sent_at (this attempt) lets a receiver refuse replays, and its
// id, which stays the same across retries, lets it drop duplicates.
const SignatureHeader = "X-Dokploy-Signature"

// Sign returns the SignatureHeader value for body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a SignatureHeader value against body, and refuses a body
// whose sent_at is further than maxAge from now (a replay). It is what a
// receiver does, in Go.
func Verify(secret, header string, body []byte, now time.Time, maxAge time.Duration) error {
	if !strings.HasPrefix(header, "sha256=") {
		return errors.New("malformed signature header")
	}
	if !hmac.Equal([]byte(Sign(secret, body)), []byte(header)) {
		return errors.New("signature mismatch")
	}
	var env struct {
		SentAt time.Time `json:"sent_at"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.SentAt.IsZero() {
		return errors.New("body has no sent_at")
	}
	if d := now.Sub(env.SentAt); d > maxAge || d < -maxAge {
		return errors.New("sent_at too far from now (a replay?)")
	}
	return nil
}

// Message is what a channel sends.
type Message struct {
	ID         int64 // the outbox row: receivers may dedupe on it
	Event      string
	Title      string
	Body       string
	URL        string
	Severity   string
	OccurredAt time.Time
	Subject    db.NotificationSubject
	Data       []byte // a JSON object, or empty
}

// WebhookPayload is the JSON body of the generic webhook. Project,
// service and deployment are null when the event is not about one (a
// node's disk); data is always an object.
type WebhookPayload struct {
	ID         int64           `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	SentAt     time.Time       `json:"sent_at"` // this attempt; signed with the body, so receivers can refuse replays
	Severity   string          `json:"severity"`
	Title      string          `json:"title"`
	Body       string          `json:"body"`
	URL        string          `json:"url,omitempty"`
	Project    *PayloadRef     `json:"project"`
	Service    *PayloadRef     `json:"service"`
	Deployment *PayloadRef     `json:"deployment"`
	Data       json.RawMessage `json:"data"`
}

// PayloadRef names a project, service or deployment in the envelope.
type PayloadRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name,omitempty"`
	Kind string `json:"kind,omitempty"` // services: app, database, compose
}

// webhookPayload builds the envelope of m, sent at sentAt.
func webhookPayload(m Message, sentAt time.Time) WebhookPayload {
	p := WebhookPayload{ID: m.ID, Type: m.Event, OccurredAt: m.OccurredAt.UTC(), SentAt: sentAt.UTC().Truncate(time.Second),
		Severity: m.Severity, Title: m.Title, Body: m.Body, URL: m.URL, Data: json.RawMessage(`{}`)}
	if s := m.Subject; s.ProjectID != nil {
		p.Project = &PayloadRef{ID: *s.ProjectID, Name: s.Project}
	}
	if s := m.Subject; s.ServiceID != nil {
		p.Service = &PayloadRef{ID: *s.ServiceID, Name: s.Service, Kind: s.ServiceKind}
	}
	if s := m.Subject; s.DeploymentID != nil {
		p.Deployment = &PayloadRef{ID: *s.DeploymentID}
	}
	if json.Valid(m.Data) && len(m.Data) > 0 && m.Data[0] == '{' {
		p.Data = m.Data
	}
	return p
}

// sender delivers messages; its HTTP client dials through the guard.
type sender struct {
	client      *http.Client
	guard       *netguard.Guard
	telegramAPI string         // https://api.telegram.org; tests point it at a local server
	rootCAs     *x509.CertPool // nil: the system's; tests trust their own CA
	smtpTimeout time.Duration
	now         func() time.Time
}

// httpTimeout bounds one HTTP delivery, connection included.
const httpTimeout = 10 * time.Second

func newSender(guard *netguard.Guard) *sender {
	dialer := guard.Dialer()
	dialer.Timeout = httpTimeout
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   httpTimeout,
		ResponseHeaderTimeout: httpTimeout,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		// No proxy from the environment: the guard checks the real peer.
	}
	client := &http.Client{
		Timeout:   httpTimeout,
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("refused a redirect to another host (%s)", req.URL.Hostname())
			}
			return nil
		},
	}
	return &sender{client: client, guard: guard, telegramAPI: "https://api.telegram.org", smtpTimeout: 30 * time.Second, now: time.Now}
}

// send delivers m through a channel of kind with cfg. Its error never
// contains a secret of cfg.
func (s *sender) send(ctx context.Context, kind string, cfg *Config, m Message) error {
	err := s.sendRaw(ctx, kind, cfg, m)
	if err == nil {
		return nil
	}
	return errors.New(scrub(oneLine(err.Error()), cfg.secrets(kind)))
}

func (s *sender) sendRaw(ctx context.Context, kind string, cfg *Config, m Message) error {
	switch kind {
	case KindWebhook:
		body, _ := json.Marshal(webhookPayload(m, s.now()))
		return s.post(ctx, cfg.URL, body, map[string]string{
			"Content-Type": "application/json", SignatureHeader: Sign(cfg.Secret, body), "X-Dokploy-Event": m.Event,
		})
	case KindSlack:
		text := "*" + slackEscape(m.Title) + "*"
		if m.Body != "" {
			text += "\n" + slackEscape(m.Body)
		}
		if m.URL != "" {
			text += "\n<" + m.URL + "|Open in Dokploy>"
		}
		body, _ := json.Marshal(map[string]any{"text": text})
		return s.post(ctx, cfg.URL, body, map[string]string{"Content-Type": "application/json"})
	case KindDiscord:
		embed := map[string]any{"title": cut(m.Title, 256), "description": cut(m.Body, 4000), "color": discordColor(m.Severity),
			"timestamp": m.OccurredAt.UTC().Format(time.RFC3339)}
		if m.URL != "" {
			embed["url"] = m.URL
		}
		body, _ := json.Marshal(map[string]any{"embeds": []any{embed}, "allowed_mentions": map[string]any{"parse": []string{}}})
		return s.post(ctx, cfg.URL, body, map[string]string{"Content-Type": "application/json"})
	case KindTelegram:
		text := "<b>" + html.EscapeString(m.Title) + "</b>"
		if m.Body != "" {
			text += "\n" + html.EscapeString(m.Body)
		}
		if m.URL != "" {
			text += "\n<a href=\"" + html.EscapeString(m.URL) + "\">Open in Dokploy</a>"
		}
		body, _ := json.Marshal(map[string]any{"chat_id": cfg.ChatID, "text": cut(text, 4000), "parse_mode": "HTML",
			"disable_web_page_preview": true})
		return s.post(ctx, strings.TrimRight(s.telegramAPI, "/")+"/bot"+cfg.Token+"/sendMessage", body,
			map[string]string{"Content-Type": "application/json"})
	case KindNtfy:
		h := map[string]string{"Title": headerText(m.Title), "Priority": ntfyPriority(m.Severity), "Tags": ntfyTag(m.Severity),
			"Content-Type": "text/plain; charset=utf-8"}
		if m.URL != "" {
			h["Click"] = m.URL
		}
		if cfg.Token != "" {
			h["Authorization"] = "Bearer " + cfg.Token
		}
		msg := m.Body
		if msg == "" {
			msg = m.Title
		}
		return s.post(ctx, strings.TrimRight(cfg.URL, "/")+"/"+url.PathEscape(cfg.Topic), []byte(msg), h)
	case KindGotify:
		payload := map[string]any{"title": m.Title, "message": m.Body, "priority": gotifyPriority(m.Severity)}
		if m.URL != "" {
			payload["extras"] = map[string]any{"client::notification": map[string]any{"click": map[string]any{"url": m.URL}}}
		}
		body, _ := json.Marshal(payload)
		return s.post(ctx, strings.TrimRight(cfg.URL, "/")+"/message", body,
			map[string]string{"Content-Type": "application/json", "X-Gotify-Key": cfg.Token})
	case KindEmail:
		return s.mail(ctx, cfg, m)
	}
	return fmt.Errorf("unknown channel kind %q", kind)
}

// post sends body and accepts any 2xx answer.
func (s *sender) post(ctx context.Context, target string, body []byte, headers map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid URL")
	}
	req.Header.Set("User-Agent", "Dokploy-Notifications/1")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may carry a token: keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			if ue.Timeout() {
				return fmt.Errorf("no answer within %s", httpTimeout)
			}
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if t := strings.TrimSpace(printable(string(snippet))); t != "" {
			msg += ": " + cut(t, 200)
		}
		return errors.New(msg)
	}
	return nil
}

// mail sends m over SMTP: implicit TLS on port 465, STARTTLS when the
// server offers it, authentication when a username is set (never over an
// unencrypted connection to another machine: net/smtp refuses it).
func (s *sender) mail(ctx context.Context, cfg *Config, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, s.smtpTimeout)
	defer cancel()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	conn, err := s.guard.Dialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to the SMTP server: %w", err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	tlsConf := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: s.rootCAs}
	if cfg.Port == 465 {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("TLS with the SMTP server: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("dokploy"); err != nil {
		return fmt.Errorf("SMTP EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && cfg.Port != 465 {
		if err := c.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("SMTP STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the SMTP server does not offer authentication (AUTH) but a username is set")
		}
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return fmt.Errorf("SMTP authentication: %w", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	for _, to := range cfg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("SMTP RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(buildMail(cfg, m, s.now())); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	return c.Quit()
}

// buildMail is a plain-text UTF-8 message (quoted-printable).
func buildMail(cfg *Config, m Message, now time.Time) []byte {
	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", cfg.From)
	hdr("To", strings.Join(cfg.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", headerText(m.Title)))
	hdr("Date", now.UTC().Format(time.RFC1123Z))
	hdr("Message-ID", fmt.Sprintf("<dokploy-notification-%d-%d@%s>", m.ID, now.UnixNano(), mailDomain(cfg.From)))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("X-Dokploy-Event", m.Event)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := m.Body
	if m.URL != "" {
		text += "\n\n" + m.URL
	}
	text += "\n\n-- \nSent by Dokploy (" + m.Event + ")\n"
	_, _ = qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

func mailDomain(addr string) string {
	if i := strings.LastIndex(addr, "@"); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

// scrub replaces every secret in s.
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, db.SecretMask)
			if esc := url.PathEscape(v); esc != v {
				s = strings.ReplaceAll(s, esc, db.SecretMask)
			}
		}
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// printable drops control characters from a provider's answer.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) && r != ' ' {
			return ' '
		}
		return r
	}, s)
}

// headerText is s on one line, for HTTP and mail headers.
func headerText(s string) string { return cut(oneLine(printable(s)), 250) }

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func discordColor(severity string) int {
	switch severity {
	case SeverityError:
		return 0xd93f3f
	case SeverityWarning:
		return 0xe5a50a
	case SeveritySuccess:
		return 0x2e9e5b
	}
	return 0x3b82f6
}

func ntfyPriority(severity string) string {
	switch severity {
	case SeverityError:
		return "4"
	case SeverityWarning:
		return "4"
	}
	return "3"
}

func ntfyTag(severity string) string {
	switch severity {
	case SeverityError:
		return "rotating_light"
	case SeverityWarning:
		return "warning"
	case SeveritySuccess:
		return "white_check_mark"
	}
	return "information_source"
}

func gotifyPriority(severity string) int {
	switch severity {
	case SeverityError:
		return 8
	case SeverityWarning:
		return 6
	}
	return 4
}
