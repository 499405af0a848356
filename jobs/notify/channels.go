package notify

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"dokploy/db"
)

// Channel kinds.
const (
	KindWebhook  = "webhook"
	KindSlack    = "slack"
	KindDiscord  = "discord"
	KindTelegram = "telegram"
	KindNtfy     = "ntfy"
	KindGotify   = "gotify"
	KindEmail    = "email"
)

// Kinds lists every channel kind, in the order forms offer them.
var Kinds = []string{KindWebhook, KindSlack, KindDiscord, KindTelegram, KindNtfy, KindGotify, KindEmail}

// KindLabel is a kind's name for people.
func KindLabel(kind string) string {
	switch kind {
	case KindWebhook:
		return "Webhook (signed JSON)"
	case KindSlack:
		return "Slack"
	case KindDiscord:
		return "Discord"
	case KindTelegram:
		return "Telegram"
	case KindNtfy:
		return "ntfy"
	case KindGotify:
		return "Gotify"
	case KindEmail:
		return "Email (SMTP)"
	}
	return kind
}

// Config is a channel's settings; which fields apply depends on the kind
// (see Fields). It is stored sealed, as JSON.
type Config struct {
	// URL: the webhook's endpoint, Slack's or Discord's webhook URL, or
	// the ntfy or Gotify server.
	URL string `json:"url,omitempty"`
	// Secret signs the webhook's body (X-Dokploy-Signature).
	Secret string `json:"secret,omitempty"`
	// Token: Telegram's bot token, Gotify's app token or ntfy's access token.
	Token  string `json:"token,omitempty"`
	ChatID string `json:"chat_id,omitempty"` // Telegram
	Topic  string `json:"topic,omitempty"`   // ntfy
	// SMTP.
	Host     string   `json:"host,omitempty"`
	Port     int      `json:"port,omitempty"`
	Username string   `json:"username,omitempty"`
	Password string   `json:"password,omitempty"`
	From     string   `json:"from,omitempty"`
	To       []string `json:"to,omitempty"`
}

// Field describes one setting of a kind, for forms and API answers.
type Field struct {
	Name     string // the JSON and form name
	Label    string
	Hint     string
	Secret   bool // write-only: answers only say whether it is set
	Required bool
}

// Fields lists the settings a kind uses.
func Fields(kind string) []Field {
	switch kind {
	case KindWebhook:
		return []Field{
			{Name: "url", Label: "URL", Hint: "http(s) endpoint that receives a signed JSON POST", Required: true},
			{Name: "secret", Label: "Signing secret", Hint: "at least 16 characters; the receiver checks X-Dokploy-Signature with it", Secret: true, Required: true},
		}
	case KindSlack:
		return []Field{{Name: "url", Label: "Incoming webhook URL", Hint: "https://hooks.slack.com/services/…", Secret: true, Required: true}}
	case KindDiscord:
		return []Field{{Name: "url", Label: "Webhook URL", Hint: "https://discord.com/api/webhooks/…", Secret: true, Required: true}}
	case KindTelegram:
		return []Field{
			{Name: "token", Label: "Bot token", Hint: "from @BotFather, like 123456:ABC…", Secret: true, Required: true},
			{Name: "chat_id", Label: "Chat id", Hint: "a number, or @channelname", Required: true},
		}
	case KindNtfy:
		return []Field{
			{Name: "url", Label: "Server URL", Hint: "https://ntfy.sh or your own server", Required: true},
			{Name: "topic", Label: "Topic", Required: true},
			{Name: "token", Label: "Access token", Hint: "optional", Secret: true},
		}
	case KindGotify:
		return []Field{
			{Name: "url", Label: "Server URL", Hint: "https://gotify.example.com", Required: true},
			{Name: "token", Label: "App token", Secret: true, Required: true},
		}
	case KindEmail:
		return []Field{
			{Name: "host", Label: "SMTP host", Required: true},
			{Name: "port", Label: "Port", Hint: "587 (STARTTLS), 465 (implicit TLS) or 25", Required: true},
			{Name: "username", Label: "Username", Hint: "optional"},
			{Name: "password", Label: "Password", Hint: "optional", Secret: true},
			{Name: "from", Label: "From", Hint: "alerts@example.com", Required: true},
			{Name: "to", Label: "To", Hint: "one or more addresses, separated by commas", Required: true},
		}
	}
	return nil
}

// ValidKind reports whether kind is a channel kind.
func ValidKind(kind string) bool { return slices.Contains(Kinds, kind) }

// Get returns a field's value as text (To joined by ", ").
func (c *Config) Get(name string) string {
	switch name {
	case "url":
		return c.URL
	case "secret":
		return c.Secret
	case "token":
		return c.Token
	case "chat_id":
		return c.ChatID
	case "topic":
		return c.Topic
	case "host":
		return c.Host
	case "port":
		if c.Port == 0 {
			return ""
		}
		return strconv.Itoa(c.Port)
	case "username":
		return c.Username
	case "password":
		return c.Password
	case "from":
		return c.From
	case "to":
		return strings.Join(c.To, ", ")
	}
	return ""
}

// Set sets a field from text; it reports a field error for a port that
// is not a number.
func (c *Config) Set(name, v string) string {
	v = strings.TrimSpace(v)
	switch name {
	case "url":
		c.URL = v
	case "secret":
		c.Secret = v
	case "token":
		c.Token = v
	case "chat_id":
		c.ChatID = v
	case "topic":
		c.Topic = v
	case "host":
		c.Host = v
	case "port":
		if v == "" {
			c.Port = 0
			return ""
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return "the port must be a number from 1 to 65535"
		}
		c.Port = n
	case "username":
		c.Username = v
	case "password":
		c.Password = v
	case "from":
		c.From = v
	case "to":
		c.To = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	}
	return ""
}

// Keep copies into c the secret fields left empty from old, so an edit
// that does not retype a secret keeps the stored one.
func (c *Config) Keep(kind string, old *Config) {
	for _, f := range Fields(kind) {
		if f.Secret && c.Get(f.Name) == "" {
			c.Set(f.Name, old.Get(f.Name))
		}
	}
}

// Only clears the fields kind does not use, so nothing unused is stored.
func (c *Config) Only(kind string) {
	var out Config
	for _, f := range Fields(kind) {
		if f.Name == "to" {
			out.To = c.To
			continue
		}
		if f.Name == "port" {
			out.Port = c.Port
			continue
		}
		out.Set(f.Name, c.Get(f.Name))
	}
	*c = out
}

// SecretsSet says, for each secret field of kind, whether it has a value.
func (c *Config) SecretsSet(kind string) map[string]bool {
	out := map[string]bool{}
	for _, f := range Fields(kind) {
		if f.Secret {
			out[f.Name] = c.Get(f.Name) != ""
		}
	}
	return out
}

// Public is the config without its secrets, for answers and forms.
func (c *Config) Public(kind string) map[string]any {
	out := map[string]any{}
	for _, f := range Fields(kind) {
		switch {
		case f.Secret:
		case f.Name == "to":
			out["to"] = append([]string{}, c.To...)
		case f.Name == "port":
			out["port"] = c.Port
		case f.Name == "url":
			out["url"] = db.RedactURL(c.URL)
		default:
			out[f.Name] = c.Get(f.Name)
		}
	}
	return out
}

// secrets are the values that must never appear in a message, an error or
// a page: secret fields, and the path and query of a secret URL (Slack's
// and Discord's carry their token there).
func (c *Config) secrets(kind string) []string {
	var out []string
	for _, f := range Fields(kind) {
		if !f.Secret {
			continue
		}
		v := c.Get(f.Name)
		if v == "" {
			continue
		}
		out = append(out, v)
		if f.Name == "url" {
			if u, err := url.Parse(v); err == nil {
				if p := strings.Trim(u.EscapedPath(), "/"); len(p) > 3 {
					out = append(out, p)
				}
				if u.RawQuery != "" {
					out = append(out, u.RawQuery)
				}
			}
		}
	}
	if u, err := url.Parse(c.URL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p)
		} else if n := u.User.Username(); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Validate checks the config of kind (trimming it in place) and returns
// one message per invalid field.
func (c *Config) Validate(kind string) map[string]string {
	errs := map[string]string{}
	c.Only(kind)
	for _, f := range Fields(kind) {
		if f.Required && c.Get(f.Name) == "" {
			errs[f.Name] = "enter the " + strings.ToLower(f.Label)
		}
	}
	if c.URL != "" {
		if msg := checkURL(c.URL); msg != "" {
			errs["url"] = msg
		}
	}
	switch kind {
	case KindWebhook:
		if c.Secret != "" && len(c.Secret) < 16 {
			errs["secret"] = "the signing secret must be at least 16 characters"
		}
	case KindTelegram:
		if c.Token != "" && (!strings.Contains(c.Token, ":") || strings.ContainsAny(c.Token, "/?#@ \t")) {
			errs["token"] = "a bot token looks like 123456789:AA… (digits, a colon, then letters)"
		}
		if c.ChatID != "" && !validChatID(c.ChatID) {
			errs["chat_id"] = "the chat id is a number (like -1001234567890) or @channelname"
		}
	case KindNtfy:
		if c.Topic != "" && !validTopic(c.Topic) {
			errs["topic"] = "a topic is 1 to 64 letters, digits, - or _"
		}
	case KindEmail:
		if c.Host != "" && (strings.ContainsAny(c.Host, "/:@ \t\r\n") && net.ParseIP(c.Host) == nil) {
			errs["host"] = "enter a host name or IP address, without scheme or port"
		}
		if _, set := errs["port"]; !set && (c.Port < 1 || c.Port > 65535) {
			errs["port"] = "the port must be a number from 1 to 65535"
		}
		if c.From != "" && !validAddress(c.From) {
			errs["from"] = "enter one email address, like alerts@example.com"
		}
		if len(c.To) > 20 {
			errs["to"] = "at most 20 recipients"
		}
		for _, a := range c.To {
			if !validAddress(a) {
				errs["to"] = fmt.Sprintf("%q is not an email address", a)
				break
			}
		}
		if strings.ContainsAny(c.Username+c.Password, "\r\n") {
			errs["username"] = "the username and password must be one line"
		}
	}
	return errs
}

// checkURL accepts an absolute http(s) URL with a host.
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "this is not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "the URL must start with https:// or http://"
	case u.Hostname() == "":
		return "the URL needs a host"
	case u.Port() != "":
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return "the URL's port must be from 1 to 65535"
		}
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return "the URL must not contain spaces"
	}
	return ""
}

func validChatID(v string) bool {
	if strings.HasPrefix(v, "@") {
		return validTopic(v[1:])
	}
	_, err := strconv.ParseInt(v, 10, 64)
	return err == nil
}

func validTopic(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, r := range v {
		if !(r == '-' || r == '_' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// validAddress accepts one bare address (no display name, no header
// injection).
func validAddress(v string) bool {
	if strings.ContainsAny(v, "\r\n<>,;\" ") {
		return false
	}
	a, err := mail.ParseAddress(v)
	return err == nil && a.Address == v && strings.Contains(v[strings.LastIndex(v, "@")+1:], ".") ||
		err == nil && a.Address == v && strings.HasSuffix(v, "@localhost")
}
