package views

import (
	"strings"
)

// browsers are matched in order: Edge, Opera and Samsung Internet also
// send "Chrome/", Chrome sends "Safari/", and iOS browsers name themselves
// by their own token (CriOS, FxiOS, EdgiOS).
var browsers = []struct{ token, name string }{
	{"EdgiOS/", "Edge"},
	{"EdgA/", "Edge"},
	{"Edg/", "Edge"},
	{"Edge/", "Edge"},
	{"OPR/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"FxiOS/", "Firefox"},
	{"Firefox/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
}

// systems are matched in order: iOS says "like Mac OS X" and Android
// says "Linux".
var systems = []struct{ token, name string }{
	{"iPhone", "iOS"},
	{"iPad", "iPadOS"},
	{"iPod", "iOS"},
	{"Windows", "Windows"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

// UserAgent names the browser and system of a User-Agent header the way a
// person says them: "Chrome 126 on macOS", "Firefox 128 on Linux",
// "Safari 17 on iOS", "curl". Tools that are not browsers are named by
// their first product token.
func UserAgent(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return "Unknown browser"
	}
	if !strings.HasPrefix(ua, "Mozilla/") && !strings.HasPrefix(ua, "Opera/") {
		product, _, _ := strings.Cut(strings.Fields(ua)[0], "/")
		if len(product) > 40 {
			product = product[:40] + "…"
		}
		return product
	}
	browser := ""
	for _, b := range browsers {
		if v, ok := majorAfter(ua, b.token); ok {
			browser = b.name + v
			break
		}
	}
	if browser == "" && strings.Contains(ua, "Safari/") {
		v, _ := majorAfter(ua, "Version/")
		browser = "Safari" + v
	}
	if browser == "" {
		browser = "Unknown browser"
	}
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			return browser + " on " + s.name
		}
	}
	return browser
}

// majorAfter finds token in ua and returns " <major version>" after it
// ("" when no digits follow).
func majorAfter(ua, token string) (string, bool) {
	i := strings.Index(ua, token)
	if i < 0 {
		return "", false
	}
	rest := ua[i+len(token):]
	n := 0
	for n < len(rest) && n < 6 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return "", true
	}
	return " " + rest[:n], true
}
