package testkit

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// csrfField finds the CSRF token a page's forms send as _csrf. The token
// is bound to the session (or, before sign-in, to a cookie), so it is read
// from the page, not from a cookie.
var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// NewClient returns an HTTP client with its own cookie jar that never
// follows redirects, so tests see the status codes the server sends.
func NewClient(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Login signs in at baseURL/login as a browser does (GET the form for the
// CSRF cookie, POST it with _csrf, email and password) and returns the
// signed-in client (see NewClient). It fails the test unless the server
// answers with the redirect to / that starts a session.
func Login(t testing.TB, baseURL, email, password string) *http.Client {
	t.Helper()
	c := NewClient(t)
	csrf := fetchCSRF(t, c, baseURL+"/login")
	code, loc, body := postForm(t, c, baseURL+"/login", url.Values{
		"_csrf": {csrf}, "email": {email}, "password": {password},
	})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login as %s: want 303 to /, got %d %q: %s", email, code, loc, Truncate(body))
	}
	return c
}

// Setup creates the first admin through the one-time setupURL
// (…/setup?token=…) and returns a client signed in as that admin.
func Setup(t testing.TB, setupURL, email, password string) *http.Client {
	t.Helper()
	u, err := url.Parse(setupURL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(t)
	csrf := fetchCSRF(t, c, setupURL)
	target := u.Scheme + "://" + u.Host + "/setup"
	code, loc, body := postForm(t, c, target, url.Values{
		"_csrf": {csrf}, "token": {u.Query().Get("token")}, "email": {email},
		"password": {password}, "password_confirm": {password},
	})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("setup: want 303 to /, got %d %q: %s", code, loc, Truncate(body))
	}
	return c
}

// fetchCSRF GETs page (which must answer 200) and returns its CSRF token.
func fetchCSRF(t testing.TB, c *http.Client, page string) string {
	t.Helper()
	res, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: want 200, got %d: %s", page, res.StatusCode, Truncate(string(body)))
	}
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("GET %s shows no CSRF token: %s", page, Truncate(string(body)))
	}
	return string(m[1])
}

func postForm(t testing.TB, c *http.Client, target string, values url.Values) (int, string, string) {
	t.Helper()
	res, err := c.Post(target, "application/x-www-form-urlencoded", strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	loc := res.Header.Get("HX-Redirect")
	if loc == "" {
		loc = res.Header.Get("Location")
	}
	return res.StatusCode, loc, string(body)
}
