// Package static serves the stylesheet, the pages' scripts and the vendored front-end assets
// (htmx, its SSE extension, uPlot, xterm.js and its fit addon, installed from npm by scripts/provision.sh).
package static

import (
	"embed"
	"net/http"
)

//go:embed app.css service.js pages.js metrics.js terminal.js favicon.svg vendor/htmx.min.js vendor/sse.js vendor/uPlot.iife.min.js vendor/uPlot.min.css vendor/xterm.js vendor/xterm.css vendor/addon-fit.js
var files embed.FS

// Handler serves the embedded files with a cache header; file names change
// with the version in the page's query string.
func Handler() http.Handler {
	fs := http.FileServer(http.FS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fs.ServeHTTP(w, r)
	})
}
