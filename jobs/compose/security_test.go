package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
)

const allowHint = "an administrator can allow"

func TestBindMountOfRoot(t *testing.T) {
	for _, file := range []string{
		"services:\n  web:\n    image: nginx\n    volumes:\n      - /:/host\n",
		"services:\n  web:\n    image: nginx\n    volumes:\n      - type: bind\n        source: /\n        target: /host\n",
	} {
		e := refusal(t, pasted(file), `service "web": the bind mount of the host path "/" is refused`)
		if e.Line != 5 || !strings.Contains(e.Msg, allowHint+" bind mounts for this stack in its Settings") {
			t.Errorf("line %d: %v", e.Line, e)
		}

		src := pasted(file)
		src.Allow.BindMounts = true
		m := service(t, mustLoad(t, src), "web").Spec.TaskTemplate.ContainerSpec.Mounts
		if len(m) != 1 || m[0].Type != mount.TypeBind || m[0].Source != "/" {
			t.Errorf("allowed bind mount = %+v", m)
		}
	}
}

func TestRelativeBindMount(t *testing.T) {
	dir := checkout(t, map[string]string{"data/x": ""})
	file := "services:\n  web:\n    image: nginx\n    volumes: [\"./data:/data\"]\n"
	wantError(t, inRepo(dir, file), `the bind mount of the host path "./data" is refused`)

	src := inRepo(dir, file)
	src.Allow.BindMounts = true
	m := service(t, mustLoad(t, src), "web").Spec.TaskTemplate.ContainerSpec.Mounts
	if len(m) != 1 || m[0].Source != filepath.Join(dir, "data") {
		t.Errorf("mounts = %+v, want the checkout's data directory", m)
	}

	src = pasted(file)
	src.Allow.BindMounts = true
	wantError(t, src, "is relative, but this stack has no repository")
}

func TestDockerSocket(t *testing.T) {
	for _, sock := range []string{"/var/run/docker.sock", "/run/docker.sock", "/srv/x/docker.sock"} {
		file := "services:\n  web:\n    image: nginx\n    volumes:\n      - " + sock + ":/var/run/docker.sock\n"
		for _, allow := range []Permissions{{}, {BindMounts: true}, {DockerSocket: true}} {
			src := pasted(file)
			src.Allow = allow
			e := refusal(t, src, "binding the container runtime socket")
			if !strings.Contains(e.Msg, allowHint+" the Docker socket") {
				t.Errorf("%v", e)
			}
		}
		src := pasted(file)
		src.Allow = Permissions{BindMounts: true, DockerSocket: true}
		mustLoad(t, src)
	}
}

func TestDockerSocketThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "docker.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "innocent")
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	src := pasted("services:\n  web:\n    image: nginx\n    volumes:\n      - " + link + ":/s\n")
	src.Allow.BindMounts = true
	wantError(t, src, "binding the container runtime socket")
}

func TestVolumeDriverOptsBind(t *testing.T) {
	for name, opts := range map[string]string{
		"bind":   "type: none\n      o: bind\n      device: /etc",
		"device": "type: ext4\n      device: /dev/sda1",
		"plugin": "foo: bar",
	} {
		t.Run(name, func(t *testing.T) {
			driver := ""
			if name == "plugin" {
				driver = "    driver: some/plugin\n"
			}
			file := "services:\n  web:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data:\n" + driver + "    driver_opts:\n      " + opts + "\n"
			e := refusal(t, pasted(file), `volume "data": driver_opts`)
			if !strings.Contains(e.Msg, "is refused") || !strings.Contains(e.Msg, allowHint+" bind mounts") {
				t.Errorf("%v", e)
			}
			src := pasted(file)
			src.Allow.BindMounts = true
			mustLoad(t, src)
		})
	}
	// A tmpfs volume is not a bind mount.
	mustLoad(t, pasted("services:\n  web:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data:\n    driver_opts:\n      type: tmpfs\n      device: tmpfs\n      o: size=100m\n"))
}

func TestRefusedFeatures(t *testing.T) {
	for _, tc := range []struct {
		name, service, top, want, hint string
		allow                          Permissions
	}{
		{"privileged", "privileged: true", "", `service "web": privileged: true is refused`, "privileged services", Permissions{Privileged: true}},
		{"interpolated privileged", "privileged: ${P}", "", `service "web": privileged: true is refused`, "privileged services", Permissions{Privileged: true}},
		{"network_mode", "network_mode: host", "", `service "web": network_mode: host is refused`, "host namespaces", Permissions{HostNamespaces: true}},
		{"pid", "pid: host", "", `service "web": pid: host is refused`, "host namespaces", Permissions{HostNamespaces: true}},
		{"ipc", "ipc: host", "", `service "web": ipc: host is refused`, "host namespaces", Permissions{HostNamespaces: true}},
		{"userns_mode", "userns_mode: host", "", `service "web": userns_mode: host is refused`, "host namespaces", Permissions{HostNamespaces: true}},
		{"host network", "networks: [hostnet]", "networks:\n  hostnet:\n    external: true\n    name: host\n", `network "hostnet": attaching to the host network is refused`, "host namespaces", Permissions{HostNamespaces: true}},
		{"host network by key", "networks: [host]", "networks:\n  host:\n    external: true\n", `network "host": attaching to the host network is refused`, "host namespaces", Permissions{HostNamespaces: true}},
		{"cap_add", "cap_add: [SYS_ADMIN]", "", `service "web": cap_add (SYS_ADMIN) is refused`, "added capabilities and devices", Permissions{Capabilities: true}},
		{"devices", "devices: [\"/dev/sda:/dev/sda\"]", "", `service "web": devices (/dev/sda:/dev/sda) is refused`, "added capabilities and devices", Permissions{Capabilities: true}},
		{"seccomp", "security_opt: [\"seccomp:unconfined\"]", "", `service "web": security_opt "seccomp:unconfined" is refused`, "added capabilities and devices", Permissions{Capabilities: true}},
		{"apparmor", "security_opt: [\"apparmor=unconfined\"]", "", `security_opt "apparmor=unconfined" is refused`, "added capabilities and devices", Permissions{Capabilities: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := "services:\n  web:\n    image: nginx\n    " + tc.service + "\n" + tc.top
			src := pasted(file)
			src.Env = map[string]string{"P": "true"}
			e := refusal(t, src, tc.want)
			if !strings.Contains(e.Msg, allowHint+" "+tc.hint+" for this stack in its Settings") {
				t.Errorf("message does not say how to allow it: %v", e)
			}
			if e.Line == 0 {
				t.Errorf("no line: %v", e)
			}
			src.Allow = tc.allow
			mustLoad(t, src)
		})
	}
}

func TestAllRefusalsAtOnce(t *testing.T) {
	file := "services:\n  web:\n    image: nginx\n    privileged: true\n    cap_add: [NET_ADMIN]\n    volumes: [\"/:/host\"]\n"
	_, err := Load(context.Background(), pasted(file))
	if errs := fileErrors(t, err); len(errs) != 3 {
		t.Errorf("got %d errors, want 3:\n%v", len(errs), err)
	}
}

func TestExternalObjects(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"services:\n  web:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data:\n    external: true\n",
			`volume "data" is external: a stack may only use its own volumes`},
		{"services:\n  web:\n    image: nginx\n    secrets: [s]\nsecrets:\n  s:\n    external: true\n    name: dokploy_db_password\n",
			`secret "s" is external: a stack may only use its own secrets`},
		{"services:\n  web:\n    image: nginx\n    configs: [c]\nconfigs:\n  c:\n    external: true\n",
			`config "c" is external: a stack may only use its own configs`},
		{"services:\n  web:\n    image: nginx\n    networks: [n]\nnetworks:\n  n:\n    external: true\n    name: other_default\n",
			`network "n" is external ("other_default"): a stack may only use its own networks and dokploy-network`},
		{"services:\n  web:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data:\n    name: other_data\n",
			`volume "data": the name "other_data" is refused: a stack may only use its own volumes`},
		{"services:\n  web:\n    image: nginx\n    networks: [n]\nnetworks:\n  n:\n    name: other_default\n",
			`network "n": the name "other_default" is refused`},
	} {
		e := refusal(t, pasted(tc.file), tc.want)
		if e.Line == 0 {
			t.Errorf("no line: %v", e)
		}
	}
}

func TestPlatformNetwork(t *testing.T) {
	file := "services:\n  web:\n    image: nginx\n    networks: [dokploy-network, back]\nnetworks:\n  dokploy-network:\n    external: true\n  back: {}\n"
	p := mustLoad(t, pasted(file))
	if _, ok := p.Networks["dokploy-network"]; ok {
		t.Errorf("the external network is in Networks: %v", p.Networks)
	}
	if _, ok := p.Networks["demo_back"]; !ok {
		t.Errorf("networks = %v", p.Networks)
	}
	var targets []string
	for _, n := range service(t, p, "web").Spec.TaskTemplate.Networks {
		targets = append(targets, n.Target)
	}
	if strings.Join(targets, ",") != "demo_back,dokploy-network" {
		t.Errorf("attachments = %v", targets)
	}
	// A volume name of the stack's own is fine.
	mustLoad(t, pasted("services:\n  web:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data:\n    name: demo_pgdata\n"))
}

func TestEnvFile(t *testing.T) {
	dir := checkout(t, map[string]string{
		"deploy/.env":     "# comment\n\nexport A=from-file\nB=\"quoted # not a comment\"\nC='single $X'\nD=plain # comment\nOWN=file\nBARE\n",
		"deploy/more.env": "A=later-file\n",
	})
	file := "services:\n  web:\n    image: nginx\n    env_file: [.env, more.env, {path: absent.env, required: false}]\n    environment:\n      OWN: service\n"
	src := inRepo(dir, file)
	src.FileDir = "deploy"
	src.Env = map[string]string{"BARE": "from-stack", "X": "not-interpolated"}
	env := envOf(service(t, mustLoad(t, src), "web"))
	want := map[string]string{"A": "later-file", "B": "quoted # not a comment", "C": "single $X", "D": "plain", "OWN": "service", "BARE": "from-stack"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q (env %v)", k, env[k], v, env)
		}
	}
}

func TestEnvFileConfined(t *testing.T) {
	dir := checkout(t, nil)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "evil.env")); err != nil {
		t.Fatal(err)
	}
	file := "services:\n  web:\n    image: nginx\n    env_file: %s\n"
	for path, want := range map[string]string{
		"evil.env":    `service "web": env_file: the file "evil.env" is refused: it leads outside the repository`,
		"/etc/passwd": `the file "/etc/passwd" is an absolute path`,
		"../x.env":    `the file "../x.env" is outside the repository`,
		"missing.env": `the file "missing.env" does not exist in the repository`,
	} {
		e := refusal(t, inRepo(dir, strings.Replace(file, "%s", path, 1)), want)
		if e.Line != 4 {
			t.Errorf("%s: line %d", path, e.Line)
		}
	}
	wantError(t, pasted(strings.Replace(file, "%s", ".env", 1)), "this stack has no repository to read it from")
}

func TestEnvFileSyntax(t *testing.T) {
	dir := checkout(t, map[string]string{".env": "A=1\nnot a line\n"})
	wantError(t, inRepo(dir, "services:\n  web:\n    image: nginx\n    env_file: .env\n"), `env_file ".env": line 2: "not a line" is not a KEY=VALUE line`)
}

func TestCredentialSpecRefused(t *testing.T) {
	wantError(t, pasted("services:\n  web:\n    image: nginx\n    credential_spec:\n      file: x.json\n"), "credential_spec is for Windows services")
}

func TestUndefinedReferences(t *testing.T) {
	wantError(t, pasted("services:\n  web:\n    image: nginx\n    volumes: [data:/data]\n"), `uses the volume "data", which the top-level volumes: does not define`)
	wantError(t, pasted("services:\n  web:\n    image: nginx\n    networks: [back]\n"), `joins the network "back"`)
	wantError(t, pasted("services:\n  web:\n    image: nginx\n    secrets: [s]\n"), `uses the secret "s"`)
}

func TestHostileYAMLDoesNotPanic(t *testing.T) {
	// A non-string key is read as it is written.
	if p := mustLoad(t, pasted("services:\n  1: {image: nginx, environment: {2: x}}\n")); envOf(p.Services[0])["2"] != "x" {
		t.Errorf("env = %v", envOf(p.Services[0]))
	}
	for _, file := range []string{
		"services:\n  web:\n    image: nginx\n    ulimits:\n      nofile: {soft: x}\n",
		"services:\n  web: [1, 2]\n",
		"services: [a]\n",
		"- a\n",
		"a: &a [*a, *a]\n",
		"services:\n  web:\n    image: nginx\n    volumes: [\"::::\"]\n",
	} {
		if _, err := Load(context.Background(), pasted(file)); err == nil {
			t.Errorf("Load(%q) succeeded", file)
		}
	}
}
