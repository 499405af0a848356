package handlers

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// markupProblems lists what makes a page's HTML misbehave in a browser
// although it renders: an id used twice (labels, data-copy and hx-target
// then reach the first one only, and Chromium warns about each), and a form
// inside a form (the parser drops the inner one, so its button submits the
// outer form).
func markupProblems(body string) []string {
	var problems []string
	ids := map[string]int{}
	var labelFors []string
	formDepth := 0
	inLabel, labelHasControl, labelText := false, false, ""
	z := html.NewTokenizer(strings.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				problems = append(problems, "unparsable: "+z.Err().Error())
			}
			break
		}
		if tt == html.TextToken && inLabel {
			labelText += string(z.Text())
			continue
		}
		name, hasAttr := z.TagName()
		tag := string(name)
		attrs := map[string]string{}
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			attrs[string(k)] = string(v)
		}
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if id, ok := attrs["id"]; ok {
				ids[id]++
			}
			switch tag {
			case "form":
				if formDepth > 0 {
					problems = append(problems, "a form inside a form")
				}
				formDepth++
			case "label":
				if f, ok := attrs["for"]; ok {
					labelFors = append(labelFors, f)
				} else {
					inLabel, labelHasControl, labelText = true, false, ""
				}
			case "input", "select", "textarea":
				labelHasControl = true
				if attrs["id"] == "" && attrs["name"] == "" && attrs["type"] != "submit" && attrs["type"] != "button" {
					problems = append(problems, fmt.Sprintf("a <%s> with neither id nor name", tag))
				}
				// Chromium autofills a field named like an autofill kind
				// ("name": the user's own name) unless autocomplete says
				// what the field is.
				if _, set := attrs["autocomplete"]; !set && (autofillNames[attrs["name"]] || autofillNames[attrs["id"]]) {
					problems = append(problems, fmt.Sprintf("<%s name=%q> needs an autocomplete attribute", tag, attrs["name"]))
				}
			}
		case html.EndTagToken:
			switch {
			case tag == "form" && formDepth > 0:
				formDepth--
			case tag == "label" && inLabel:
				if !labelHasControl {
					problems = append(problems, fmt.Sprintf("label %q has no for= and no control inside", strings.TrimSpace(labelText)))
				}
				inLabel = false
			}
		}
	}
	for id, n := range ids {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("id %q used %d times", id, n))
		}
	}
	for _, f := range labelFors {
		if ids[f] == 0 {
			problems = append(problems, fmt.Sprintf("label for=%q names no element", f))
		}
	}
	return problems
}

var autofillNames = map[string]bool{"name": true, "email": true, "username": true, "url": true, "tel": true, "organization": true, "country": true}

func TestMarkupProblems_Detects(t *testing.T) {
	got := markupProblems(`<div id="a"></div><form><p id="a"></p><form></form></form><label>Lost</label><label for="nowhere">X</label><input name="name">`)
	if len(got) != 5 {
		t.Fatalf("want a duplicate id, a nested form, a label without control, one naming nothing and an autofilled name, got %q", got)
	}
	if got := markupProblems(`<form id="x"></form><form id="y"><label for="z">Z</label><input id="z"><label>A <input name="a"></label></form>`); len(got) != 0 {
		t.Fatalf("clean markup reported: %q", got)
	}
}

// Every page and tab a user opens, with content in it (env rows, a domain,
// a port, a webhook), has unique ids and no nested forms.
func TestPages_MarkupIsSound(t *testing.T) {
	a := newRoutingApp(t)
	b := a.setupAdmin()
	app := a.CreateApp("shop")
	base := fmt.Sprintf("/apps/%d", app.ID)
	wantStatus(t, b.postHTMX(base+"/env", url.Values{"key": {"A_KEY"}, "value": {"one"}}), http.StatusOK)
	wantStatus(t, b.postHTMX(base+"/env", url.Values{"key": {"B_KEY"}, "value": {"two"}}), http.StatusOK)
	wantStatus(t, b.postHTMX(base+"/domains", url.Values{"host": {"shop.example.test"}, "path": {"/"}, "port": {"3000"},
		"https": {"on"}, "enabled": {"on"}, "certificate": {"letsencrypt"}}), http.StatusOK)
	wantStatus(t, b.postHTMX(base+"/domains", url.Values{"host": {"www.example.test"}, "path": {"/"}, "port": {"3000"},
		"enabled": {"on"}, "certificate": {"none"}}), http.StatusOK)

	loaded, err := a.store.App(t.Context(), app.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.store.Project(t.Context(), loaded.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	d := b.createDatabase(p, "markup-db")
	s := b.createCompose(p, stackName("markup"))

	// Pages, then the partials they load when shown (hx-trigger="load").
	pages := []string{"/", fmt.Sprintf("/projects/%d", p.ID), "/settings", "/account", "/server", "/api-docs",
		fmt.Sprintf("/services/app/%d/terminal", app.ID), base + "/backups", base + "/webhooks",
		fmt.Sprintf("/metrics/app/%d", app.ID), fmt.Sprintf("/metrics/database/%d", d.ID), fmt.Sprintf("/metrics/compose/%d", s.ID),
		fmt.Sprintf("/databases/%d/backups", d.ID), "/settings/notifications/form", "/settings/alerts/form"}
	for _, part := range []string{"alerts", "control-plane-backup", "destinations", "logs", "maintenance", "metrics", "notifications", "retention", "routing"} {
		pages = append(pages, "/settings/"+part)
	}
	for _, tab := range []string{"", "/environment", "/domains", "/deployments", "/logs", "/monitoring", "/advanced"} {
		pages = append(pages, base+tab)
	}
	for _, tab := range []string{"", "/environment", "/operations", "/logs", "/monitoring", "/advanced"} {
		pages = append(pages, fmt.Sprintf("/databases/%d%s", d.ID, tab))
	}
	for _, tab := range []string{"", "/file", "/environment", "/domains", "/monitoring", "/deployments", "/settings"} {
		pages = append(pages, fmt.Sprintf("/compose/%d%s", s.ID, tab))
	}
	for _, path := range pages {
		res := b.get(path)
		wantStatus(t, res, http.StatusOK)
		for _, p := range markupProblems(res.Body) {
			t.Errorf("%s: %s", path, p)
		}
	}
}
