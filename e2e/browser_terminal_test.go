package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// termRowJS is true when a row of the xterm screen reads exactly want.
func termRowJS(want string) string {
	return `[...document.querySelectorAll("#terminal .xterm-rows > div")].some(d => d.textContent.trim() === ` + browserJS(want) + `)`
}

// termType types s into the focused terminal as a keyboard does: one
// keyDown carrying the text per key, then keyUp ('\r' is Enter).
// chromedp.SendKeys sends a keyDown and a separate char event per key,
// which xterm.js 6 (it reads printable keys from the input events) takes
// as two keystrokes.
func termType(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, r := range s {
			key, code := string(r), int64(0) // no key code for punctuation: '$' is 36, Home's
			switch {
			case r == '\r':
				key, code = "Enter", 13
			case r == ' ' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z':
				code = int64(unicode.ToUpper(r))
			}
			down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: key, Text: string(r), WindowsVirtualKeyCode: code}
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, down); err != nil {
				return err
			}
			up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: key, WindowsVirtualKeyCode: code}
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, up); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestBrowserTerminal opens the terminal of a running app in Chromium the
// way a user does (the app page's Terminal link), types a command into
// xterm.js and sees its output; closing and reconnecting gives a new
// shell; the page fits a phone.
func TestBrowserTerminal(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	image := termBusyboxImage(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	project := c.newProject(t)
	app, _ := c.newApp(t, project, map[string]any{"type": "image", "image": image})
	if d := c.waitFinished(t, c.deploy(t, app), 3*time.Minute); d.Status != "done" {
		t.Fatalf("deploy: %s %s", d.Status, d.Error)
	}
	page := fmt.Sprintf("/services/app/%d/terminal", app)

	b := browserOpen(t, c.URL)
	b.step("sign in", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(c.URL+"/login"),
			chromedp.SendKeys(chromedp.CSS("#email"), resAdminEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), resAdminPassword),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		); err != nil {
			return err
		}
		return b.waitPath(ctx, "/")
	})
	b.step("open the terminal from the app page", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(fmt.Sprintf("%s/apps/%d", c.URL, app)),
			chromedp.Click(chromedp.CSS("a.terminal-link")),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, page); err != nil {
			return err
		}
		return b.waitJS(ctx, "the terminal connected", `document.querySelector("#terminal-state").dataset.state === "connected"`)
	})
	b.step("type a command and see its output", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#terminal")),
			termType("echo hello-terminal\r"),
		); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "a row reading hello-terminal", termRowJS("hello-terminal")); err != nil {
			return err
		}
		// xterm's theme applies (through adopted style sheets, which a
		// style-src 'self' policy allows): light text on the black panel.
		color, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#terminal .xterm-rows")).color`))
		if err != nil {
			return err
		}
		if color == "rgb(0, 0, 0)" || color == "" {
			return fmt.Errorf("the terminal's text is %q: xterm's theme did not apply", color)
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("style")].filter(s => !s.textContent.includes("htmx-indicator")).length`)); err != nil || n != 0 {
			return fmt.Errorf("%d <style> elements from xterm (a CSP with style-src 'self' refuses them): %v", n, err)
		}
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#terminal-state").textContent`))
		if err != nil {
			return err
		}
		if want := "connected · sh in replica 1"; len(state) < len(want) || state[:len(want)] != want {
			return fmt.Errorf("status %q, want it to start with %q", state, want)
		}
		return b.screenshot(ctx, "terminal")
	})
	b.step("the fit addon sized the TTY to the window", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, termType("stty size\r")); err != nil {
			return err
		}
		// xterm.js' own size is what the shell must see.
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#terminal .xterm-rows > div").length`))
		if err != nil {
			return err
		}
		// Fitted, the rows fill the panel's height to within one row (a
		// count alone cannot tell: the panel may be about 24 rows tall,
		// xterm's default), and the columns are not the default 80.
		gap, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
			const box = document.querySelector("#terminal"), row = document.querySelector("#terminal .xterm-rows > div");
			const cs = getComputedStyle(box);
			const inner = box.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
			return (inner - document.querySelectorAll("#terminal .xterm-rows > div").length * row.offsetHeight) / row.offsetHeight;
		})()`))
		if err != nil {
			return err
		}
		if rows < 10 || gap <= -1 || gap >= 1 {
			return fmt.Errorf("xterm has %d rows, %.1f rows off the panel's height: the fit addon did not size it to the panel", rows, gap)
		}
		return b.waitJS(ctx, "stty size shows the rows and fitted columns", `[...document.querySelectorAll("#terminal .xterm-rows > div")].some(d => {
			const m = d.textContent.trim().match(/^(\d+) (\d+)$/);
			return m && m[1] === "`+fmt.Sprint(rows)+`" && m[2] !== "80" && Number(m[2]) > 40;
		})`)
	})
	b.step("a closed session reconnects to a new shell", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, termType("exit\r")); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the status says closed with a Reconnect button",
			`document.querySelector("#terminal-state").dataset.state === "closed" && !document.querySelector("#terminal-reconnect").hidden`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#terminal-reconnect"))); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "connected again", `document.querySelector("#terminal-state").dataset.state === "connected"`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, termType("echo again-$((1+1))\r")); err != nil {
			return err
		}
		return b.waitJS(ctx, "a row reading again-2", termRowJS("again-2"))
	})
	b.step("the terminal page fits a phone", browserStepTimeout, func(ctx context.Context) error {
		if err := b.checkPhoneFit(ctx, page); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile)); err != nil {
			return err
		}
		defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+page)); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "connected at phone width", `document.querySelector("#terminal-state").dataset.state === "connected"`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#terminal")), termType("echo phone-$((2*3))\r")); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "a row reading phone-6", termRowJS("phone-6")); err != nil {
			return err
		}
		return b.screenshot(ctx, "terminal-phone")
	})
	if exc := b.exceptions(); len(exc) > 0 {
		t.Errorf("JavaScript exceptions: %v", exc)
	}
}
