package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
)

// Bounded waits of the deploy flow.
const (
	deployFinishTimeout = 2 * time.Minute  // Deploy pressed → status badge done
	deployServeTimeout  = 30 * time.Second // done → the published port answers
	deployCleanTimeout  = time.Minute      // removing the service and images
	deployAdminEmail    = "admin@example.com"
	deployAdminPassword = "correct horse battery"
)

// TestBrowserDeploy deploys a git app from a browser the way a user does:
// setup, a project, a git app on container port 8080 with a host-mode
// published port, Deploy. On the deployment page the build log streams into
// #log over SSE and the status badge turns done without a reload; then the
// app answers on the published port, and the app page shows it running with
// the deployment done.
func TestBrowserDeploy(t *testing.T) {
	dbtest.Integration(t)
	f := deployRun(t, deployNewAppName(t, "e2e-deploy-"), "hello-from-browser")
	f.b.step("the deployment log follows new lines unless scrolled up", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+f.deployPath)); err != nil {
			return err
		}
		if err := f.b.waitJS(ctx, "the log's lines", `window.htmx && document.querySelectorAll("#log .line").length > 0`); err != nil {
			return err
		}
		// Lines arrive the way the SSE extension swaps them in (htmx.swap,
		// beforeend); static/pages.js scrolls the box after each swap.
		type follow struct{ Followed, Kept, Back bool }
		got, err := chromedp.Run(ctx, chromedp.Evaluate[follow](`(async () => {
			const box = document.getElementById("log");
			const wait = () => new Promise(r => setTimeout(r, 150));
			const add = n => htmx.swap(box, Array.from({length: n}, (_, i) => '<div class="line">filler ' + i + '</div>').join(""), {swapStyle: "beforeend"});
			const atBottom = () => box.scrollTop + box.clientHeight >= box.scrollHeight - 2;
			add(300); await wait();
			const followed = box.scrollHeight > box.clientHeight && atBottom();
			box.scrollTop = 0; await wait();
			add(50); await wait();
			const kept = box.scrollTop === 0;
			box.scrollTop = box.scrollHeight; await wait();
			add(50); await wait();
			return {followed, kept, back: atBottom()};
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			return err
		}
		if !got.Followed || !got.Kept || !got.Back {
			return fmt.Errorf("the log box: followed new lines %v, kept the place scrolled up to %v, followed again at the bottom %v; want all true",
				got.Followed, got.Kept, got.Back)
		}
		return nil
	})
	if msgs := f.b.exceptions(); len(msgs) > 0 {
		t.Errorf("JavaScript errors or CSP violations in the pages:\n%s", strings.Join(msgs, "\n"))
	}
}

// deployFlow is what deployRun leaves behind: a server with a deployed app
// and the browser tab that deployed it.
type deployFlow struct {
	srv        *srvServer
	b          *browserSession
	appName    string // the Swarm service
	appPath    string // /apps/N
	deployPath string // /deployments/N
	port       int    // published host port on 127.0.0.1
}

// deployRun starts a server with the worker on and a fixture repository
// whose image answers message on port 8080, and deploys it through the UI.
// The service and images named appName are removed after the server stops.
func deployRun(t *testing.T, appName, message string) *deployFlow {
	t.Helper()
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	dk := deployDocker(t)
	// Registered before srvStart, so it runs after the server (and its
	// worker) stopped: cleanups run in reverse order.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deployCleanTimeout)
		defer cancel()
		if err := dk.RemoveService(ctx, appName); err != nil {
			t.Errorf("remove service %s: %v", appName, err)
		}
		if err := dk.RemoveImages(ctx, appName); err != nil {
			t.Errorf("remove images %s: %v", appName, err)
		}
	})
	repoURL := deployServeRepo(t, deployServerDockerfile(message))
	srv := srvStart(t, "DOKPLOY_WORKER=true")
	b := browserOpen(t, srv.URL)
	f := &deployFlow{srv: srv, b: b, appName: appName, port: testkit.FreePort(t)}

	b.step("complete setup", browserStartup, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.SetupURL)); err != nil {
			return err
		}
		if err := b.waitText(ctx, ".panel h2", "Create the first admin"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#email"), deployAdminEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), deployAdminPassword),
			chromedp.SendKeys(chromedp.CSS("#password_confirm"), deployAdminPassword),
			chromedp.Click(chromedp.CSS(`form[action="/setup"] button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/"); err != nil {
			return err
		}
		return b.waitText(ctx, "#projects .empty", "No projects yet")
	})

	const projectForm = `#projects form[hx-post="/projects"]`
	card := `#projects .project-card[data-project="demo"]`
	b.step("create project demo", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(projectForm+` input[name=name]`), "demo"),
			chromedp.Click(chromedp.CSS(projectForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, card+` h3`, "demo"); err != nil {
			return err
		}
		return b.checkSameDocument(ctx, "/")
	})

	b.step("create the git app", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(card+` h3 a`))); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/projects/\d+$`)); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#new-app h2", "New application"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#app-name"), "Hello web"),
			chromedp.SendKeys(chromedp.CSS("#app-slug"), appName),
			chromedp.Click(chromedp.CSS(`#new-app input[name=source_type][value=git]`)),
			chromedp.SendKeys(chromedp.CSS("#git_url"), repoURL),
			chromedp.Clear(chromedp.CSS("#new-app #port")),
			chromedp.SendKeys(chromedp.CSS("#new-app #port"), "8080"),
			chromedp.Click(chromedp.CSS(`#new-app form button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/apps/\d+$`)); err != nil {
			return err
		}
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
		if err != nil {
			return err
		}
		f.appPath = loc
		if err := b.waitText(ctx, "#service-header h1", "Hello web"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-header .service-sub", repoURL); err != nil {
			return err
		}
		return b.waitText(ctx, "#service-state .badge.state-off", "not deployed")
	})

	b.step("publish a host port", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := b.openTab(ctx, "advanced"); err != nil {
			return err
		}
		row := `#app-ports tbody tr:last-child`
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(row+` input[name=published]`), fmt.Sprint(f.port)),
			chromedp.SendKeys(chromedp.CSS(row+` input[name=target]`), "8080"),
			chromedp.SetValue(chromedp.CSS(row+` select[name=protocol]`), "tcp"),
			chromedp.SetValue(chromedp.CSS(row+` select[name=mode]`), "host"),
			chromedp.Click(chromedp.CSS(`#app-ports button[type=submit]`)),
		); err != nil {
			return err
		}
		// The saved port comes back from the server as a row of its own
		// (its value attribute set in the HTML), above a new empty row.
		// The partial shows no "saved" message (see the report).
		first := `#app-ports tbody tr:first-child`
		saved := fmt.Sprintf(`document.querySelectorAll("#app-ports tbody tr").length === 2 &&
			document.querySelector(%s).getAttribute("value") === %s &&
			document.querySelector(%s).getAttribute("value") === "8080" &&
			document.querySelector(%s).value === "host"`,
			browserJS(first+` input[name=published]`), browserJS(fmt.Sprint(f.port)),
			browserJS(first+` input[name=target]`), browserJS(first+` select[name=mode]`))
		if err := b.waitJS(ctx, "the saved port row", saved); err != nil {
			return err
		}
		if n, err := b.count(ctx, "#app-ports .flash.error"); err != nil || n != 0 {
			return fmt.Errorf("saving the port shows an error (%d, %v)", n, err)
		}
		return b.checkSameDocument(ctx, f.appPath+"/advanced")
	})

	// Deploy answers in place: the header says "deploying…" with a link
	// to the log, and nothing else on the page is touched.
	b.step("press Deploy", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#service-header button[data-action="Deploy"]`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-state .badge.state-busy", "deploying…"); err != nil {
			return err
		}
		if err := b.checkSameDocument(ctx, f.appPath+"/advanced"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#service-header a.small-link[href^="/deployments/"]`))); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/deployments/\d+$`)); err != nil {
			return err
		}
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
		if err != nil {
			return err
		}
		f.deployPath = loc
		if err := b.waitText(ctx, ".page-head h1", "Deployment #"); err != nil {
			return err
		}
		return b.markDocument(ctx)
	})

	b.step("the log streams and the status turns done", deployFinishTimeout+browserStepTimeout, func(ctx context.Context) error {
		return deployWatch(ctx, t, b, appName)
	})

	b.step("the app answers on its published port", deployServeTimeout+5*time.Second, func(ctx context.Context) error {
		return deployWaitBody(ctx, fmt.Sprintf("http://127.0.0.1:%d/", f.port), message)
	})

	deployID := strings.TrimPrefix(f.deployPath, "/deployments/")
	b.step("the app page shows it running", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.page-head a[href="`+f.appPath+`"]`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, f.appPath); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-state .badge.state-ok", "running"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#app-replicas", "1 of 1 running"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#app-image", appName+":"+deployID); err != nil {
			return err
		}
		if err := b.openTab(ctx, "deployments"); err != nil {
			return err
		}
		row := `#deployments tbody tr:has(a[href="` + f.deployPath + `"])`
		if err := b.waitText(ctx, row+` a`, "#"+deployID); err != nil {
			return err
		}
		if err := b.waitText(ctx, row+` .badge.done`, "done"); err != nil {
			return err
		}
		return b.waitText(ctx, row+` .badge.state-ok`, "current")
	})
	return f
}

// deployLogState is one observation of the deployment page.
type deployLogState struct {
	Mark   string `json:"mark"`
	Path   string `json:"path"`
	Status string `json:"status"`
	Badge  string `json:"badge"`
	Lines  int    `json:"lines"`
	Log    string `json:"log"`
}

// deployWatch polls the deployment page until the badge says done. It
// checks that the page is never reloaded (lines arrive over SSE into the
// empty #log), that the badge was not done when the page loaded (so it
// changed in place), and that the build and rollout lines arrived once.
func deployWatch(ctx context.Context, t *testing.T, b *browserSession, appName string) error {
	const expr = `({mark: window.__browserMark || "", path: location.pathname,
		status: (document.querySelector("#deploy-status") || {innerText: ""}).innerText.trim(),
		badge: ((document.querySelector("#deploy-status .badge") || {className: ""}).className),
		lines: document.querySelectorAll("#log .line").length,
		log: (document.querySelector("#log") || {innerText: ""}).innerText})`
	start := time.Now()
	var first, last deployLogState
	var seen []string // distinct (status, lines) observations, for the report
	firstLineAt, lastGrowthAt := time.Duration(-1), time.Duration(0)
	for i := 0; ; i++ {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[deployLogState](expr))
		if err != nil {
			return fmt.Errorf("read the deployment page: %w (last seen: status %q, %d lines)", err, last.Status, last.Lines)
		}
		if s.Mark != "kept" {
			return fmt.Errorf("the deployment page was reloaded (now %s, status %q); the log and status must update in place", s.Path, s.Status)
		}
		if i == 0 {
			first = s
		}
		if s.Lines > 0 && firstLineAt < 0 {
			firstLineAt = time.Since(start)
		}
		if s.Lines != last.Lines {
			lastGrowthAt = time.Since(start)
		}
		if i == 0 || s.Status != last.Status || s.Lines != last.Lines {
			seen = append(seen, fmt.Sprintf("%s %s/%d", time.Since(start).Round(10*time.Millisecond), s.Status, s.Lines))
		}
		last = s
		if s.Status == "done" || s.Status == "error" || s.Status == "cancelled" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("status still %q after %s; %d log lines; observations: %s\nlog:\n%s",
				s.Status, time.Since(start).Round(time.Second), s.Lines, strings.Join(seen, ", "), s.Log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("deployment page: first line after %s, last new line after %s, badge %q after %s; observations: %s",
		firstLineAt.Round(time.Millisecond), lastGrowthAt.Round(time.Millisecond), last.Status,
		time.Since(start).Round(time.Millisecond), strings.Join(seen, ", "))
	if last.Status != "done" {
		return fmt.Errorf("deployment ended %q, want done; log:\n%s", last.Status, last.Log)
	}
	if !strings.Contains(" "+last.Badge+" ", " done ") {
		return fmt.Errorf("status badge class %q, want it to include done", last.Badge)
	}
	if first.Status == "done" {
		return fmt.Errorf("the badge already said done when the page loaded; cannot show that it changes in place")
	}
	// The stream may deliver the final lines just after the badge changed.
	want := []string{"Building " + appName + ":", "Step 1/", "Successfully built", "Service " + appName + " is running"}
	for {
		missing := ""
		for _, w := range want {
			if !strings.Contains(last.Log, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("#log never showed %q (%d lines); log:\n%s", missing, last.Lines, last.Log)
		case <-time.After(100 * time.Millisecond):
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[deployLogState](expr))
		if err != nil {
			return err
		}
		if s.Mark != "kept" {
			return fmt.Errorf("the deployment page was reloaded after the deploy finished")
		}
		last = s
	}
	// Each line arrives exactly once (no replay on reconnect). "Building"
	// is logged twice by design (the deploy, then the build itself).
	for _, w := range []string{" started (triggered by", "Step 1/", "Successfully built", "Service " + appName + " is running"} {
		if n := strings.Count(last.Log, w); n != 1 {
			return fmt.Errorf("#log shows %q %d times, want once; log:\n%s", w, n, last.Log)
		}
	}
	// The finished view offers the way back.
	if err := b.waitText(ctx, "#deployment-status .flash.ok", "Deployed."); err != nil {
		return err
	}
	// Cancel is gone once the deployment finished.
	if n, err := b.count(ctx, "#deployment-status button.danger"); err != nil || n != 0 {
		return fmt.Errorf("the Cancel button is still shown after done (%d, %v)", n, err)
	}
	// The stream is closed after eof: no new lines a while later.
	time.Sleep(time.Second)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[deployLogState](expr))
	if err != nil {
		return err
	}
	if s.Lines != last.Lines {
		return fmt.Errorf("#log went from %d to %d lines after the deployment finished", last.Lines, s.Lines)
	}
	return nil
}

// deployWaitBody polls url until it answers want.
func deployWaitBody(ctx context.Context, url, want string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(deployServeTimeout)
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if last = fmt.Sprintf("%s %q", resp.Status, body); resp.StatusCode == http.StatusOK && string(body) == want {
				return nil
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s: want 200 %q within %s, last: %s", url, want, deployServeTimeout, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s: %w (last: %s)", url, ctx.Err(), last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// deployDocker connects to the engine the server deploys to; the test
// cleans up through it.
func deployDocker(t *testing.T) *docker.Docker {
	t.Helper()
	d, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatalf("connect to Docker: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if active, err := d.Ping(ctx); err != nil || !active {
		t.Fatalf("Docker engine in swarm mode required (run scripts/provision.sh): active=%v err=%v", active, err)
	}
	return d
}

// deployNewAppName returns prefix plus a random suffix: a Swarm service
// name no other test on this engine uses.
func deployNewAppName(t *testing.T, prefix string) string {
	t.Helper()
	return prefix + srvRandomHex(4)
}

// deployServeRepo commits the static test app and dockerfile to a bare
// repository and serves it over git's smart HTTP protocol on 127.0.0.1; it
// returns the clone URL.
func deployServeRepo(t *testing.T, dockerfile string) string {
	t.Helper()
	r := testkit.NewGitRepo(t)
	deployBuildTestApp(t, filepath.Join(r.Work, "app"))
	r.Commit("fixture", map[string]string{"Dockerfile": dockerfile})
	return r.URL
}

// deployServerDockerfile runs the test app answering message on port 8080.
func deployServerDockerfile(message string) string {
	return fmt.Sprintf("FROM scratch\nCOPY app /app\nENV PORT=8080 MESSAGE=%s\nENTRYPOINT [\"/app\"]\n", message)
}

// deployBuildTestApp builds jobs/testdata/app as a static binary at out.
func deployBuildTestApp(t *testing.T, out string) {
	t.Helper()
	root := testkit.RepoRoot(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-o", out, "./jobs/testdata/app")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the test app: %v\n%s", err, b)
	}
}
