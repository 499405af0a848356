package compose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
)

const twoServices = `
services:
  web:
    build:
      context: ./web
      args:
        VERSION: "1.2"
        EMPTY:
      target: prod
    ports:
      - "8080:80"
    expose: ["9000"]
    networks:
      back:
        aliases: [frontend]
    depends_on: [store]
  store:
    image: redis:7
    volumes:
      - data:/data
    networks: [back]
    deploy:
      replicas: 2
volumes:
  data: {}
networks:
  back: {}
`

func TestLoadTwoServiceStack(t *testing.T) {
	dir := checkout(t, map[string]string{"web/Dockerfile": "FROM scratch\n"})
	p := mustLoad(t, inRepo(dir, twoServices))

	if p.Stack != "demo" || len(p.Services) != 2 || p.Services[0].Name != "store" || p.Services[1].Name != "web" {
		t.Fatalf("services = %+v, want store and web, sorted", p.Services)
	}
	web, store := service(t, p, "web"), service(t, p, "store")
	if web.Spec.Name != "demo_web" || store.Spec.Name != "demo_store" {
		t.Errorf("scoped names = %q, %q", web.Spec.Name, store.Spec.Name)
	}
	if web.Spec.Labels["com.docker.stack.namespace"] != "demo" {
		t.Errorf("stack label missing: %v", web.Spec.Labels)
	}
	wantBuild := &Build{Context: "web", Dockerfile: "Dockerfile", Args: map[string]string{"VERSION": "1.2"}, Target: "prod"}
	if !reflect.DeepEqual(web.Build, wantBuild) {
		t.Errorf("build = %+v, want %+v", web.Build, wantBuild)
	}
	if store.Build != nil {
		t.Errorf("store has a build: %+v", store.Build)
	}
	if img := store.Spec.TaskTemplate.ContainerSpec.Image; img != "redis:7" {
		t.Errorf("store image = %q", img)
	}
	if img := web.Spec.TaskTemplate.ContainerSpec.Image; img != "" {
		t.Errorf("web image = %q before SetImage, want empty", img)
	}

	nets := web.Spec.TaskTemplate.Networks
	if len(nets) != 1 || nets[0].Target != "demo_back" || !reflect.DeepEqual(nets[0].Aliases, []string{"frontend", "web"}) {
		t.Errorf("web networks = %+v, want demo_back with aliases frontend, web", nets)
	}
	if _, ok := p.Networks["demo_back"]; !ok || len(p.Networks) != 1 {
		t.Errorf("networks = %v, want demo_back only", p.Networks)
	}
	if d := p.Networks["demo_back"].Driver; d != "overlay" {
		t.Errorf("network driver = %q, want overlay", d)
	}

	mounts := store.Spec.TaskTemplate.ContainerSpec.Mounts
	if len(mounts) != 1 || mounts[0].Type != mount.TypeVolume || mounts[0].Source != "demo_data" || mounts[0].Target != "/data" {
		t.Errorf("store mounts = %+v, want volume demo_data at /data", mounts)
	}
	if !reflect.DeepEqual(p.Volumes, []string{"demo_data"}) {
		t.Errorf("volumes = %v", p.Volumes)
	}
	if store.Spec.Mode.Replicated == nil || *store.Spec.Mode.Replicated.Replicas != 2 {
		t.Errorf("store mode = %+v, want 2 replicas", store.Spec.Mode)
	}

	wantPorts := []PublishedPort{{Service: "web", Published: 8080, Target: 80, Protocol: "tcp", Mode: "ingress"}}
	if !reflect.DeepEqual(p.Ports, wantPorts) {
		t.Errorf("ports = %+v, want %+v", p.Ports, wantPorts)
	}
	if !reflect.DeepEqual(web.TargetPorts, []uint32{80, 9000}) {
		t.Errorf("web target ports = %v, want [80 9000]", web.TargetPorts)
	}
}

func TestSetImage(t *testing.T) {
	dir := checkout(t, map[string]string{"web/Dockerfile": "FROM scratch\n"})
	p := mustLoad(t, inRepo(dir, twoServices))
	SetImage(p, "web", "registry.local/demo-web:abc")
	web := service(t, p, "web")
	if web.Spec.TaskTemplate.ContainerSpec.Image != "registry.local/demo-web:abc" || web.Spec.Labels["com.docker.stack.image"] != "registry.local/demo-web:abc" {
		t.Errorf("after SetImage: image %q, label %q", web.Spec.TaskTemplate.ContainerSpec.Image, web.Spec.Labels["com.docker.stack.image"])
	}
}

func TestImagesOverrideSkipsBuild(t *testing.T) {
	// A rollback deploys the image built before; its build context need
	// not even exist any more.
	src := pasted("services:\n  web:\n    build: ./gone\n")
	src.Images = map[string]string{"web": "registry.local/demo-web:old"}
	p := mustLoad(t, src)
	web := service(t, p, "web")
	if web.Build != nil || web.Spec.TaskTemplate.ContainerSpec.Image != "registry.local/demo-web:old" {
		t.Errorf("build %+v, image %q", web.Build, web.Spec.TaskTemplate.ContainerSpec.Image)
	}
}

func TestInterpolationOnlyFromEnv(t *testing.T) {
	t.Setenv("HOSTONLY", "leaked")
	file := `
services:
  web:
    image: "nginx:${TAG}"
    environment:
      A: "${HOSTONLY}"
      B: "${MISSING:-fallback}"
      C: "$$literal"
      HOSTONLY:
`
	src := pasted(file)
	src.Env = map[string]string{"TAG": "1.27"}
	p := mustLoad(t, src)
	web := service(t, p, "web")
	if img := web.Spec.TaskTemplate.ContainerSpec.Image; img != "nginx:1.27" {
		t.Errorf("image = %q, want nginx:1.27", img)
	}
	env := envOf(web)
	if env["A"] != "" || env["B"] != "fallback" || env["C"] != "$literal" {
		t.Errorf("env = %v", env)
	}
	for _, kv := range web.Spec.TaskTemplate.ContainerSpec.Env {
		if strings.Contains(kv, "leaked") {
			t.Errorf("the control plane's environment leaked: %q", kv)
		}
	}
	if !hasWarning(p, `variable "HOSTONLY" is not set; using ""`) {
		t.Errorf("warnings = %q, want one for HOSTONLY", p.Warnings)
	}
	if hasWarning(p, `"MISSING"`) || hasWarning(p, `"TAG"`) {
		t.Errorf("warnings = %q: a variable with a default or a value is not unset", p.Warnings)
	}
}

func TestInterpolatedReplicasAreCast(t *testing.T) {
	src := pasted("services:\n  web:\n    image: nginx\n    deploy:\n      replicas: ${N}\n")
	src.Env = map[string]string{"N": "3"}
	web := service(t, mustLoad(t, src), "web")
	if *web.Spec.Mode.Replicated.Replicas != 3 {
		t.Errorf("replicas = %d", *web.Spec.Mode.Replicated.Replicas)
	}
}

func TestInjectEnv(t *testing.T) {
	file := "services:\n  web:\n    image: nginx\n    environment:\n      OWN: mine\n"
	src := pasted(file)
	src.Env = map[string]string{"OWN": "stack", "EXTRA": "x"}

	env := envOf(service(t, mustLoad(t, src), "web"))
	if _, ok := env["EXTRA"]; ok || env["OWN"] != "mine" {
		t.Errorf("InjectEnv off: env = %v, want only OWN=mine", env)
	}

	src.InjectEnv = true
	env = envOf(service(t, mustLoad(t, src), "web"))
	if env["EXTRA"] != "x" || env["OWN"] != "mine" {
		t.Errorf("InjectEnv on: env = %v, want EXTRA=x and the service's own OWN=mine", env)
	}
}

func TestYAMLSyntaxErrorLine(t *testing.T) {
	file := "services:\n  web:\n    image: nginx\n    ports:\n      - 80\n  - oops\n"
	_, err := Load(context.Background(), pasted(file))
	errs := fileErrors(t, err)
	if len(errs) != 1 || errs[0].Line != 6 || !strings.Contains(errs[0].Msg, "invalid YAML") {
		t.Fatalf("got %v, want one YAML error on line 6", err)
	}
	if got := errs[0].Error(); !strings.HasPrefix(got, "docker-compose.yml line 6: ") {
		t.Errorf("Error() = %q", got)
	}
}

func TestDuplicateKeyLine(t *testing.T) {
	file := "services:\n  web:\n    image: nginx\n  web:\n    image: redis\n"
	e := refusal(t, pasted(file), `"web" already defined`)
	if e.Line != 4 {
		t.Errorf("line = %d, want 4: %v", e.Line, e)
	}
}

func TestSchemaErrorLine(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
		line             int
	}{
		{"port", "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:80\"\n      - abc\n", `services.web.ports.1: invalid port "abc"`, 6},
		{"replicas", "services:\n  web:\n    image: nginx\n    deploy:\n      mode: replicated\n      replicas: \"x\"\n", `services.web.deploy.replicas must be an integer, not "x"`, 6},
		{"unknown key", "services:\n  web:\n    image: nginx\n    imagee: typo\n", `services.web: unknown key "imagee"`, 4},
		{"dotted label key", "services:\n  web:\n    image: nginx\n    labels:\n      traefik.enable: true\n      traefik.http.routers.web.rule: [x]\n", "services.web.labels.traefik.http.routers.web.rule must be", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := refusal(t, pasted(tc.file), tc.want)
			if e.Line != tc.line {
				t.Errorf("line = %d, want %d: %v", e.Line, tc.line, e)
			}
		})
	}
}

func TestNoServices(t *testing.T) {
	wantError(t, pasted("volumes:\n  data: {}\n"), "the file defines no services")
	wantError(t, pasted("   \n"), "the file is empty")
}

func TestFileTooLarge(t *testing.T) {
	file := "services:\n  web:\n    image: nginx\n" + "# " + strings.Repeat("x", MaxFileSize) + "\n"
	wantError(t, pasted(file), "larger than 1 MiB")
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := checkout(t, map[string]string{"web/Dockerfile": "FROM scratch\n"})
	if _, err := Load(ctx, inRepo(dir, twoServices)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestServiceNames(t *testing.T) {
	e := refusal(t, pasted("services:\n  My_Web:\n    image: nginx\n"), `service name "My_Web" is not a DNS label: use lowercase letters, digits and '-'`)
	if e.Line != 2 {
		t.Errorf("line = %d, want 2", e.Line)
	}
	long := strings.Repeat("a", 60)
	wantError(t, pasted("services:\n  "+long+":\n    image: nginx\n"), "is too long")
}

func TestValidateStackName(t *testing.T) {
	for name, ok := range map[string]bool{
		"demo": true, "my-app-2": true, strings.Repeat("a", 63): true,
		"": false, "My_Stack": false, "-demo": false, "demo-": false, "a_b": false, strings.Repeat("a", 64): false,
	} {
		if err := ValidateStackName(name); (err == nil) != ok {
			t.Errorf("ValidateStackName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	src := pasted("services:\n  web:\n    image: nginx\n")
	src.Stack = "Bad Stack"
	if _, err := Load(context.Background(), src); err == nil || !strings.Contains(err.Error(), "not a DNS label") {
		t.Errorf("Load with a bad stack name: %v", err)
	}
}

func TestNeedsImageOrBuild(t *testing.T) {
	wantError(t, pasted("services:\n  web:\n    command: [sleep, \"1\"]\n"), `service "web" needs image: (an image to run) or build:`)
	wantError(t, pasted("services:\n  web:\n    image: \"UPPER:case:x\"\n"), "is not a valid image reference")
}

func TestBuildInPastedFile(t *testing.T) {
	wantError(t, pasted("services:\n  web:\n    build: .\n"),
		`service "web" has build: but this stack has no repository to build from; use an image or a git source`)
}

func TestBuildContext(t *testing.T) {
	dir := checkout(t, map[string]string{
		"deploy/docker-compose.yml": "",
		"app/Dockerfile.prod":       "FROM scratch\n",
		"nodockerfile/README":       "",
	})
	if err := os.Symlink("/etc", filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	at := func(file string) Source {
		src := inRepo(dir, file)
		src.FileDir = "deploy"
		return src
	}

	p := mustLoad(t, at("services:\n  web:\n    build:\n      context: ../app\n      dockerfile: Dockerfile.prod\n"))
	if b := service(t, p, "web").Build; b.Context != "app" || b.Dockerfile != "Dockerfile.prod" {
		t.Errorf("build = %+v, want context app (relative to the checkout)", b)
	}

	wantError(t, at("services:\n  web:\n    build: ./missing\n"), `service "web": build context "./missing" does not exist in the repository`)
	wantError(t, at("services:\n  web:\n    build: ../..\n"), `build context "../.." is outside the repository`)
	wantError(t, at("services:\n  web:\n    build: /etc\n"), `build context "/etc" is an absolute path`)
	wantError(t, at("services:\n  web:\n    build: ../etc\n"), `build context "../etc" is refused: it leads outside the repository`)
	wantError(t, at("services:\n  web:\n    build: https://github.com/a/b.git\n"), "not a URL")
	wantError(t, at("services:\n  web:\n    build: ../nodockerfile\n"), `the Dockerfile "Dockerfile" does not exist in the build context "../nodockerfile"`)
}

func TestBuildNetwork(t *testing.T) {
	dir := checkout(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	file := "services:\n  web:\n    build:\n      context: .\n      network: host\n"
	wantError(t, inRepo(dir, file), `service "web": build.network: host is refused`)

	src := inRepo(dir, file)
	src.Allow.HostNamespaces = true
	if b := service(t, mustLoad(t, src), "web").Build; b.Network != "host" {
		t.Errorf("build network = %q, want host", b.Network)
	}

	p := mustLoad(t, inRepo(dir, "services:\n  web:\n    build:\n      context: .\n      network: none\n"))
	if !hasWarning(p, `build.network "none" is ignored`) {
		t.Errorf("warnings = %q", p.Warnings)
	}
}

func TestWarnings(t *testing.T) {
	file := `
services:
  web:
    image: nginx
    container_name: web1
    restart: always
    depends_on:
      store:
        condition: service_healthy
  store:
    image: redis
`
	p := mustLoad(t, pasted(file))
	for _, want := range []string{
		`service "web": container_name is ignored by Swarm (Setting the container name is not supported.)`,
		`service "web": depends_on is not honoured by Swarm`,
		`service "web": restart is ignored by Swarm`,
	} {
		if !hasWarning(p, want) {
			t.Errorf("no warning %q in %q", want, p.Warnings)
		}
	}
	if hasWarning(p, "build") {
		t.Errorf("warnings mention build: %q", p.Warnings)
	}
}

func TestForbiddenKeys(t *testing.T) {
	e := refusal(t, pasted("services:\n  web:\n    image: nginx\n    volumes_from: [other]\n"), `service "web": volumes_from is not supported`)
	if e.Line != 4 {
		t.Errorf("line = %d, want 4", e.Line)
	}
}

func TestRendered(t *testing.T) {
	dir := checkout(t, map[string]string{".env": "FROM_FILE=yes\n"})
	file := "services:\n  web:\n    image: \"nginx:${TAG}\"\n    env_file: .env\n"
	src := inRepo(dir, file)
	src.Env = map[string]string{"TAG": "1.27"}
	p := mustLoad(t, src)
	r := string(p.Rendered)
	for _, want := range []string{"image: nginx:1.27", "FROM_FILE: \"yes\""} {
		if !strings.Contains(r, want) {
			t.Errorf("Rendered lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "env_file") || strings.Contains(r, "${TAG}") {
		t.Errorf("Rendered is not the deployed file:\n%s", r)
	}
}

func TestSecretsAndConfigs(t *testing.T) {
	dir := checkout(t, map[string]string{
		"secrets/db.txt": "s3cret\n",
		"nginx.conf":     "events {}\n",
	})
	file := `
services:
  web:
    image: nginx
    secrets:
      - db
      - source: db
        target: /run/other
        mode: 0400
    configs:
      - source: nginx
        target: /etc/nginx/nginx.conf
secrets:
  db:
    file: ./secrets/db.txt
configs:
  nginx:
    file: nginx.conf
`
	p := mustLoad(t, inRepo(dir, file))
	sum := sha256.Sum256([]byte("s3cret\n"))
	wantName := "demo_db_" + hex.EncodeToString(sum[:])[:10]
	if len(p.Secrets) != 1 || p.Secrets[0].Name != wantName || string(p.Secrets[0].Data) != "s3cret\n" ||
		p.Secrets[0].Labels["com.docker.stack.namespace"] != "demo" {
		t.Fatalf("secrets = %+v, want %s", p.Secrets, wantName)
	}
	if len(p.Configs) != 1 || !strings.HasPrefix(p.Configs[0].Name, "demo_nginx_") || string(p.Configs[0].Data) != "events {}\n" {
		t.Fatalf("configs = %+v", p.Configs)
	}
	cs := service(t, p, "web").Spec.TaskTemplate.ContainerSpec
	if len(cs.Secrets) != 2 {
		t.Fatalf("secret refs = %+v", cs.Secrets)
	}
	byTarget := map[string]uint32{}
	for _, r := range cs.Secrets {
		if r.SecretName != wantName || r.SecretID != "" || r.File.UID != "0" || r.File.GID != "0" {
			t.Errorf("secret ref = %+v %+v", r, r.File)
		}
		byTarget[r.File.Name] = uint32(r.File.Mode)
	}
	if !reflect.DeepEqual(byTarget, map[string]uint32{"db": 0o444, "/run/other": 0o400}) {
		t.Errorf("secret targets = %v", byTarget)
	}
	if len(cs.Configs) != 1 || cs.Configs[0].ConfigName != p.Configs[0].Name || cs.Configs[0].File.Name != "/etc/nginx/nginx.conf" {
		t.Errorf("config refs = %+v", cs.Configs)
	}
	if r := string(p.Rendered); strings.Contains(r, dir) || !strings.Contains(r, "file: secrets/db.txt") {
		t.Errorf("Rendered shows the checkout path or not the file:\n%s", r)
	}
}

func TestSecretFilesConfined(t *testing.T) {
	dir := checkout(t, nil)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	file := "services:\n  web:\n    image: nginx\n    secrets: [s]\nsecrets:\n  s:\n    file: %s\n"
	for path, want := range map[string]string{
		"/etc/passwd":   `the file "/etc/passwd" is an absolute path`,
		"../../x":       `the file "../../x" is outside the repository`,
		"passwd":        `the file "passwd" is refused: it leads outside the repository`,
		"missing.txt":   `the file "missing.txt" does not exist in the repository`,
		"~/.ssh/id_rsa": `the file "~/.ssh/id_rsa" is in a home directory`,
	} {
		e := refusal(t, inRepo(dir, strings.Replace(file, "%s", path, 1)), `secret "s": `+want)
		if e.Line != 7 {
			t.Errorf("%s: line = %d, want 7", path, e.Line)
		}
	}
	wantError(t, pasted(strings.Replace(file, "%s", "x.txt", 1)), "this stack has no repository to read it from")
}

func TestObjectNames(t *testing.T) {
	dir := checkout(t, map[string]string{"s.txt": "x"})
	long := strings.Repeat("s", 50)
	wantError(t, inRepo(dir, "services:\n  web:\n    image: nginx\nsecrets:\n  "+long+":\n    file: s.txt\n"), "would be longer than 64 characters")

	p := mustLoad(t, inRepo(dir, "services:\n  web:\n    image: nginx\nsecrets:\n  s:\n    name: platform_secret\n    file: s.txt\n"))
	if !strings.HasPrefix(p.Secrets[0].Name, "demo_s_") || !hasWarning(p, `secret "s": name: is ignored`) {
		t.Errorf("secret %q, warnings %q", p.Secrets[0].Name, p.Warnings)
	}
}

func TestComposeSpecForms(t *testing.T) {
	// The top-level name: and the long form of depends_on are not in the
	// v3 schema but their meaning is clear.
	file := "name: other\nservices:\n  web:\n    image: nginx\n    depends_on:\n      db:\n        condition: service_healthy\n  db:\n    image: postgres\n"
	p := mustLoad(t, pasted(file))
	if !hasWarning(p, "the top-level name: is ignored") || !strings.Contains(string(p.Rendered), "depends_on:\n      - db") {
		t.Errorf("warnings %q, rendered:\n%s", p.Warnings, p.Rendered)
	}
	wantError(t, pasted("version: '2'\nservices:\n  web:\n    image: nginx\n"), "Swarm stacks use version 3 files")
}

func TestInterpolationErrors(t *testing.T) {
	e := refusal(t, pasted("services:\n  web:\n    image: \"${TAG?set TAG in the stack's environment}\"\n"), "services.web.image: required variable TAG is missing a value")
	if e.Line != 3 {
		t.Errorf("line = %d", e.Line)
	}
	wantError(t, pasted("services:\n  web:\n    image: \"nginx:${TAG\"\n"), `invalid interpolation format "nginx:${TAG"; write $$ for a literal $`)
	src := pasted("services:\n  web:\n    image: nginx\n    deploy:\n      replicas: ${N}\n")
	src.Env = map[string]string{"N": "many"}
	wantError(t, src, `services.web.deploy.replicas: the value "many" is not a number`)
}

// A stack's deploy.placement reaches the Swarm service spec: constraints
// and max_replicas_per_node.
func TestPlacementPassesThrough(t *testing.T) {
	p := mustLoad(t, inRepo(checkout(t, nil), `
services:
  web:
    image: nginx:1.27
    deploy:
      replicas: 2
      placement:
        constraints: ["node.role==manager", "node.labels.region == eu"]
        max_replicas_per_node: 1
`))
	pl := service(t, p, "web").Spec.TaskTemplate.Placement
	if pl == nil || !reflect.DeepEqual(pl.Constraints, []string{"node.role==manager", "node.labels.region == eu"}) || pl.MaxReplicas != 1 {
		t.Fatalf("placement = %+v, want both constraints and MaxReplicas 1", pl)
	}
}
