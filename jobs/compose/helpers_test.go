package compose

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkout makes a repository checkout with the given files (slash paths
// to contents) and returns its directory.
func checkout(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pasted is a Source for a file pasted in the UI.
func pasted(file string) Source {
	return Source{Stack: "demo", File: []byte(file), Filename: "docker-compose.yml"}
}

// inRepo is a Source for a file at the root of a checkout.
func inRepo(dir, file string) Source {
	return Source{Stack: "demo", File: []byte(file), Filename: "docker-compose.yml", Dir: dir}
}

func mustLoad(t *testing.T, src Source) *Project {
	t.Helper()
	p, err := Load(context.Background(), src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

// fileErrors splits what Load returned into its *Error values.
func fileErrors(t *testing.T, err error) []*Error {
	t.Helper()
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		out = append(out, fe)
	}
	walk(err)
	return out
}

// wantError loads src and returns the *Error whose message contains want.
func wantError(t *testing.T, src Source, want string) {
	t.Helper()
	_ = refusal(t, src, want)
}

// refusal is the Error of src's load whose message contains want.
func refusal(t *testing.T, src Source, want string) *Error {
	t.Helper()
	_, err := Load(context.Background(), src)
	errs := fileErrors(t, err)
	for _, e := range errs {
		if strings.Contains(e.Msg, want) {
			return e
		}
	}
	t.Fatalf("no error contains %q; got:\n%v", want, err)
	return nil
}

func service(t *testing.T, p *Project, name string) Service {
	t.Helper()
	for _, s := range p.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %q in %+v", name, p.Services)
	return Service{}
}

func hasWarning(p *Project, substr string) bool {
	for _, w := range p.Warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

func envOf(s Service) map[string]string {
	out := map[string]string{}
	for _, kv := range s.Spec.TaskTemplate.ContainerSpec.Env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}
