// Package views renders the html/template pages and the HTMX partials.
// Templates are embedded and parsed once at start.
package views

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed templates
var files embed.FS

// Page is the data every full page receives.
type Page struct {
	Title   string
	User    any
	CSRF    string
	Active  string // nav item to highlight
	Flash   string
	Version string
	Data    any
}

// Form carries submitted values and one message per invalid field, so a
// failed form re-renders with the user's input.
type Form struct {
	Values map[string]string
	Errors map[string]string
	Error  string // a message not tied to one field
}

// NewForm returns an empty form.
func NewForm() *Form { return &Form{Values: map[string]string{}, Errors: map[string]string{}} }

// Get returns a submitted value.
func (f *Form) Get(k string) string {
	if f == nil {
		return ""
	}
	return f.Values[k]
}

// Err returns the message for a field.
func (f *Form) Err(k string) string {
	if f == nil {
		return ""
	}
	return f.Errors[k]
}

// Valid reports whether no errors were recorded.
func (f *Form) Valid() bool { return f == nil || (len(f.Errors) == 0 && f.Error == "") }

// Renderer executes pages (layout + page) and partials.
type Renderer struct {
	set *template.Template // layout, partials and every page, parsed once
}

var funcs = template.FuncMap{
	// expired tells whether a deadline has passed.
	"expired": func(t time.Time) bool { return time.Now().After(t) },
	"ago": func(t any) string {
		var tm time.Time
		switch v := t.(type) {
		case time.Time:
			tm = v
		case *time.Time:
			if v == nil {
				return "—"
			}
			tm = *v
		}
		d := time.Since(tm)
		switch {
		case d < time.Minute:
			return "just now"
		case d < time.Hour:
			return fmt.Sprintf("%d min ago", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%d h ago", int(d.Hours()))
		}
		return tm.Format("2006-01-02")
	},
	// until says how far ahead t is ("in 2 min"), for retries.
	"until": func(t time.Time) string {
		d := time.Until(t)
		switch {
		case d <= 0:
			return "now"
		case d < time.Minute:
			return fmt.Sprintf("in %d s", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("in %d min", int(d.Minutes()))
		}
		return fmt.Sprintf("in %d h", int(d.Hours()))
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"firstLine": func(s string) string { return strings.SplitN(s, "\n", 2)[0] },
	"bytes":     HumanBytes,
	"userAgent": UserAgent,
}

// New parses every template into one set. Each page defines "content"
// (and may define "head") for the layout; cloning the layout and all
// partials per page would keep fifteen escaped copies of every partial
// (18 MB of heap). Instead each page's names get the page's suffix
// ("content:app") and the layout is parsed once per page as "layout:app"
// calling them, so the partials exist once.
func New() (*Renderer, error) {
	set, err := template.New("").Funcs(funcs).ParseFS(files, "templates/partials/*.html")
	if err != nil {
		return nil, err
	}
	layout, err := fs.ReadFile(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		page, err := fs.ReadFile(files, p)
		if err != nil {
			return nil, err
		}
		if _, err := set.New("layout:" + name).Parse(pageNames(string(layout), name)); err != nil {
			return nil, fmt.Errorf("parse layout for %s: %w", p, err)
		}
		if _, err := set.New(p).Parse(pageNames(string(page), name)); err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
	}
	return &Renderer{set: set}, nil
}

// pageNames gives the layout's page templates ("layout", "content",
// "head") the page's suffix in src.
func pageNames(src, page string) string {
	return strings.NewReplacer(
		`{{define "layout"}}`, `{{define "layout:`+page+`"}}`,
		`{{define "content"}}`, `{{define "content:`+page+`"}}`,
		`{{template "content" .}}`, `{{template "content:`+page+`" .}}`,
		`{{define "head"}}`, `{{define "head:`+page+`"}}`,
		`{{block "head" .}}`, `{{block "head:`+page+`" .}}`,
	).Replace(src)
}

// Page renders a full page into w.
func (r *Renderer) Page(w io.Writer, name string, p *Page) error {
	if r.set.Lookup("layout:"+name) == nil {
		return fmt.Errorf("no page %q", name)
	}
	return execute(w, r.set, "layout:"+name, p)
}

// Partial renders one named fragment into w.
func (r *Renderer) Partial(w io.Writer, name string, data any) error {
	return execute(w, r.set, name, data)
}

// buffers are the render buffers execute reuses: grown anew for every
// response, a 40 KB page cost its size several times over in garbage.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer is the largest buffer kept for reuse, so one huge page
// does not stay in memory for good.
const maxPooledBuffer = 1 << 20

// execute renders into a buffer first so a template error never leaves a
// half-written response.
func execute(w io.Writer, t *template.Template, name string, data any) error {
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			buffers.Put(buf)
		}
	}()
	buf.Reset()
	if err := t.ExecuteTemplate(buf, name, data); err != nil {
		return err
	}
	_, err := buf.WriteTo(w)
	return err
}

// HumanBytes formats a size for people (1.5 GiB).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
