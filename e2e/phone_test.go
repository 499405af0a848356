package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// phoneWidth is the viewport of the phone check: a common phone in CSS pixels.
const phoneWidth, phoneHeight = 390, 844

// pageFit is what a page measures at phone width.
type pageFit struct {
	Scroll int      `json:"scroll"` // document.documentElement.scrollWidth
	Width  int      `json:"width"`  // the viewport's width
	Over   []string `json:"over"`   // elements reaching past the right edge
}

// measureFit reads the page's width and names the widest culprits, for the
// failure message.
const measureFit = `(() => {
  const w = document.documentElement.clientWidth, over = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 1) {
      const cls = typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "";
      over.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + cls + " to " + Math.round(r.right) + "px");
    }
  }
  return JSON.stringify({scroll: document.documentElement.scrollWidth, width: w, over: over.slice(0, 6)});
})()`

// checkPhoneFit visits every path at phone width and fails when a page is
// wider than the screen (so it scrolls sideways or is cut off). Tables and
// logs may scroll inside their own panel; the page itself may not.
func (b *browserSession) checkPhoneFit(ctx context.Context, paths ...string) error {
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile)); err != nil {
		return err
	}
	defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
	var problems []string
	for _, p := range paths {
		if err := chromedp.Do(ctx, chromedp.Navigate(b.base+p)); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the page has loaded", `document.readyState === "complete"`); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond) // let HTMX's first partials settle
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](measureFit))
		if err != nil {
			return err
		}
		var fit pageFit
		if err := json.Unmarshal([]byte(raw), &fit); err != nil {
			return err
		}
		if fit.Width != phoneWidth {
			return fmt.Errorf("%s: viewport is %d px wide, want %d", p, fit.Width, phoneWidth)
		}
		if fit.Scroll > fit.Width {
			problems = append(problems, fmt.Sprintf("%s is %d px wide at %d px (%s)", p, fit.Scroll, fit.Width, strings.Join(fit.Over, ", ")))
		}
		if err := b.screenshot(ctx, "phone"+strings.ReplaceAll(p, "/", "-")); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("pages wider than a phone:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// apiJSON calls the API with a token and decodes the answer.
func apiJSON(ctx context.Context, method, url, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, url, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}
