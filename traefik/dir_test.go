package traefik

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func mustRender(t *testing.T, app App) []byte {
	t.Helper()
	data, err := Render(app)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func simpleApp(name string) App {
	return App{Name: name, Domains: []Domain{domain(1, name+".example.com")}}
}

func TestDirWrite_AtomicLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	d := NewDir(dir)
	data := mustRender(t, simpleApp("shop"))
	if err := d.Write("shop", data); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"shop.yml"}) {
		t.Fatalf("dir = %v, want [shop.yml]", got)
	}
	st, err := os.Stat(filepath.Join(dir, "shop.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", st.Mode().Perm())
	}
	got, _ := os.ReadFile(filepath.Join(dir, "shop.yml"))
	if string(got) != string(data) {
		t.Errorf("content differs")
	}
}

func TestDirWrite_InvalidDataNeverReachesDir(t *testing.T) {
	dir := t.TempDir()
	d := NewDir(dir)
	good := mustRender(t, simpleApp("shop"))
	cases := map[string][]byte{
		"no marker":       []byte("http:\n  routers: {}\n"),
		"other app":       mustRender(t, simpleApp("blog")),
		"truncated":       good[:len(good)/2],
		"unknown field":   []byte(Marker("shop") + "\nhttp:\n  routers:\n    shop-a: {rule: x, service: shop-s, entryPoints: [web], priority: 5}\n  services:\n    shop-s: {loadBalancer: {servers: [{url: 'http://x'}]}}\n"),
		"missing service": []byte(Marker("shop") + "\nhttp:\n  routers:\n    shop-a: {rule: x, service: shop-s, entryPoints: [web]}\n"),
		"missing mw":      []byte(Marker("shop") + "\nhttp:\n  routers:\n    shop-a: {rule: x, service: shop-s, entryPoints: [web], middlewares: [shop-m]}\n  services:\n    shop-s: {loadBalancer: {servers: [{url: 'http://x'}]}}\n"),
		"foreign name":    []byte(Marker("shop") + "\nhttp:\n  routers:\n    blog-a: {rule: x, service: shop-s, entryPoints: [web]}\n  services:\n    shop-s: {loadBalancer: {servers: [{url: 'http://x'}]}}\n"),
		"bad entrypoint":  []byte(Marker("shop") + "\nhttp:\n  routers:\n    shop-a: {rule: x, service: shop-s, entryPoints: [nope]}\n  services:\n    shop-s: {loadBalancer: {servers: [{url: 'http://x'}]}}\n"),
		"empty rule":      []byte(Marker("shop") + "\nhttp:\n  routers:\n    shop-a: {rule: '', service: shop-s, entryPoints: [web]}\n  services:\n    shop-s: {loadBalancer: {servers: [{url: 'http://x'}]}}\n"),
		"template":        []byte(Marker("shop") + "\nhttp:\n  routers:\n    shop-a: {rule: '{{env \"X\"}}', service: shop-s, entryPoints: [web]}\n  services:\n    shop-s: {loadBalancer: {servers: [{url: 'http://x'}]}}\n"),
		"no routers":      []byte(Marker("shop") + "\nhttp:\n  routers: {}\n"),
		"two documents":   append(append([]byte{}, good...), []byte("---\nhttp: {}\n")...),
		"two middlewares": []byte(Marker("shop") + "\nhttp:\n  routers:\n    shop-a: {rule: x, service: shop-s, entryPoints: [web], middlewares: [shop-m]}\n  services:\n    shop-s: {loadBalancer: {servers: [{url: 'http://x'}]}}\n  middlewares:\n    shop-m: {addPrefix: {prefix: /a}, stripPrefix: {prefixes: [/b]}}\n"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if err := d.Write("shop", data); err == nil {
				t.Fatal("Write accepted invalid data")
			}
			if got := listDir(t, dir); len(got) != 0 {
				t.Fatalf("dir = %v, want empty", got)
			}
		})
	}
	if err := d.Write("../shop", good); err == nil {
		t.Fatal("Write accepted a path as app name")
	}
}

func TestDirApply_WritesThenRemoves(t *testing.T) {
	dir := t.TempDir()
	d := NewDir(dir)
	app := simpleApp("shop")
	if err := d.Apply(app); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"shop.yml"}) {
		t.Fatalf("dir = %v", got)
	}
	bad := app
	bad.Domains = []Domain{{ID: 1, Host: "bad host", Port: 1, Enabled: true}}
	if err := d.Apply(bad); err == nil {
		t.Fatal("Apply accepted an invalid app")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "shop.yml")); string(got) != string(mustRender(t, app)) {
		t.Fatal("invalid app changed the existing file")
	}
	app.Domains[0].Enabled = false
	if err := d.Apply(app); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Fatalf("dir = %v, want empty after disabling the only domain", got)
	}
	if err := d.Remove("shop"); err != nil {
		t.Fatalf("Remove of a missing file = %v, want nil", err)
	}
}

func TestDir_ForeignFilesAreNeverTouched(t *testing.T) {
	dir := t.TempDir()
	d := NewDir(dir)
	foreign := []byte("http:\n  routers: {}\n")
	path := filepath.Join(dir, "shop.yml")
	if err := os.WriteFile(path, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(simpleApp("shop")); err == nil {
		t.Error("Apply overwrote a foreign file")
	}
	if err := d.Remove("shop"); err == nil {
		t.Error("Remove deleted a foreign file")
	}
	if got, _ := os.ReadFile(path); string(got) != string(foreign) {
		t.Fatal("foreign file changed")
	}
}

func TestDirReconcile(t *testing.T) {
	dir := t.TempDir()
	d := NewDir(dir)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keepApp := simpleApp("keep")
	invalidApp := simpleApp("broken")
	write("keep.yml", string(mustRender(t, keepApp)))                                            // up to date
	write("shop.yml", strings.Replace(string(mustRender(t, simpleApp("shop"))), "3000", "9", 1)) // tampered
	write("gone.yml", string(mustRender(t, simpleApp("gone"))))                                  // app deleted
	write("idle.yml", string(mustRender(t, simpleApp("idle"))))                                  // app lost its domains
	write("broken.yml", string(mustRender(t, invalidApp)))                                       // app now invalid: keep
	write("renamed.yml", string(mustRender(t, simpleApp("shop"))))                               // marker names another app
	write("hand.yml", "http:\n  routers: {}\n")                                                  // foreign
	write("notes.txt", "not read by traefik")                                                    // ignored
	write(".dokploy-shop-123.tmp", "half a file")                                                // crash leftover
	if err := os.Mkdir(filepath.Join(dir, "certificates"), 0o755); err != nil {                  // foreign dir
		t.Fatal(err)
	}
	invalidApp.Domains[0].Host = "*.wild.example"

	apps := []App{simpleApp("shop"), keepApp, simpleApp("new"), {Name: "idle"}, invalidApp}
	rep, err := d.Reconcile(apps)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("Reconcile error = %v, want the invalid app's error", err)
	}
	want := Report{
		Written:   []string{"new", "shop"},
		Removed:   []string{"gone", "idle", "renamed"},
		Unchanged: []string{"keep"},
		Invalid:   []string{"broken"},
		Foreign:   []string{"certificates", "hand.yml"},
	}
	if fmt.Sprint(rep) != fmt.Sprint(want) {
		t.Fatalf("report =\n  %+v\nwant\n  %+v", rep, want)
	}
	wantFiles := []string{"broken.yml", "certificates", "hand.yml", "keep.yml", "new.yml", "notes.txt", "shop.yml"}
	if got := listDir(t, dir); !slices.Equal(got, wantFiles) {
		t.Fatalf("dir = %v\nwant  %v", got, wantFiles)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "shop.yml")); string(got) != string(mustRender(t, simpleApp("shop"))) {
		t.Fatal("tampered file was not rewritten")
	}

	// A second run with valid apps only changes nothing but the invalid one.
	rep, err = d.Reconcile(apps[:4])
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 0 || !slices.Equal(rep.Removed, []string{"broken"}) || len(rep.Unchanged) != 3 {
		t.Fatalf("second report = %+v", rep)
	}
}

func TestDirReconcile_DuplicateApp(t *testing.T) {
	d := NewDir(t.TempDir())
	if _, err := d.Reconcile([]App{simpleApp("a"), simpleApp("a")}); err == nil {
		t.Fatal("duplicate app names accepted")
	}
}

func TestDir_ConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	d := NewDir(dir)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				app := simpleApp(fmt.Sprintf("app%d", (i+j)%5))
				app.Domains[0].Port = 1000 + j
				if j%7 == 0 {
					app.Domains[0].Enabled = false
				}
				if err := d.Apply(app); err != nil {
					t.Error(err)
				}
				if j%5 == 0 {
					if _, err := d.Reconcile([]App{simpleApp("app0"), simpleApp("app1")}); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, name := range listDir(t, dir) {
		if strings.HasSuffix(name, ".tmp") {
			t.Errorf("temp file %s left behind", name)
		}
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if err := Check(strings.TrimSuffix(name, ".yml"), data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
