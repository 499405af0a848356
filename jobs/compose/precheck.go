package compose

import (
	"fmt"
	"strings"

	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/types"
)

// precheck looks at the file as written, before the loader: service names,
// keys the loader refuses with an unhelpful message, and keys Swarm
// ignores. It also rewrites the few Compose Specification forms that the
// v3 schema would refuse although their meaning is clear.
func (l *loading) precheck() {
	if _, ok := l.dict["name"]; ok {
		delete(l.dict, "name")
		l.warn("the top-level name: is ignored: the stack is named %q by its settings", l.src.Stack)
	}
	services, _ := l.dict["services"].(map[string]any)
	for _, name := range sortedNames(services) {
		if msg := l.checkServiceName(name); msg != "" {
			l.fail(at("services", name), "%s", msg)
		}
		svc, ok := services[name].(map[string]any)
		if !ok {
			continue // the schema says what is wrong with it
		}
		l.checkForbidden(name, svc)
		l.warnIgnored(name, svc)
		l.flattenDependsOn(name, svc)
		l.checkVolumeSpecs(name, svc)
	}
}

// checkForbidden reports, per service, the keys the loader refuses outright
// (it would only say "Configuration contains forbidden properties").
func (l *loading) checkForbidden(name string, svc map[string]any) {
	for _, key := range sortedNames(types.ForbiddenProperties) {
		if _, ok := svc[key]; ok {
			l.fail(at("services", name, key), "service %q: %s is not supported by Swarm stacks (%s)",
				name, key, types.ForbiddenProperties[key])
		}
	}
}

// ignoredHints says what to do instead of a key Swarm ignores.
var ignoredHints = map[string]string{
	"restart":        "Swarm restarts tasks by deploy.restart_policy; restart: is translated to it when deploy.restart_policy is not set",
	"links":          "services on the same network reach each other by service name",
	"external_links": "services on the same network reach each other by service name",
	"network_mode":   "services are attached to the stack's networks",
	"shm_size":       "mount a tmpfs volume at /dev/shm instead",
	"privileged":     "Swarm never runs a service privileged",
	"devices":        "Swarm does not give services host devices",
	"security_opt":   "Swarm applies its default security options",
}

// warnIgnored turns the keys Swarm ignores into warnings, one per service
// and key. build is not among them: this platform builds it.
func (l *loading) warnIgnored(name string, svc map[string]any) {
	one := map[string]any{"services": map[string]any{name: svc}}
	for _, key := range loader.GetUnsupportedProperties(one) {
		if key == "build" {
			continue
		}
		if hint := ignoredHints[key]; hint != "" {
			l.warn("service %q: %s is ignored by Swarm (%s)", name, key, hint)
			continue
		}
		l.warn("service %q: %s is ignored by Swarm", name, key)
	}
	deprecated := loader.GetDeprecatedProperties(one)
	for _, key := range sortedNames(deprecated) {
		l.warn("service %q: %s is ignored by Swarm (%s)", name, key, deprecated[key])
	}
	if _, ok := svc["depends_on"]; ok {
		l.warn("service %q: depends_on is not honoured by Swarm: services start in any order and conditions are not waited for, so %s must retry until what it needs answers", name, name)
	}
}

// flattenDependsOn accepts the Compose Specification's long form of
// depends_on (a mapping with conditions), which the v3 schema refuses. Swarm
// ignores depends_on anyway; the list keeps it visible in Rendered.
func (l *loading) flattenDependsOn(name string, svc map[string]any) {
	deps, ok := svc["depends_on"].(map[string]any)
	if !ok {
		return
	}
	list := make([]any, 0, len(deps))
	for _, dep := range sortedNames(deps) {
		list = append(list, dep)
	}
	svc["depends_on"] = list
}

// checkVolumeSpecs parses the short volume syntax ("src:dst:mode") of each
// service here, where the service and line are known: the loader reports
// a bad one without saying which.
func (l *loading) checkVolumeSpecs(name string, svc map[string]any) {
	vols, _ := svc["volumes"].([]any)
	for i, v := range vols {
		spec, ok := v.(string)
		if !ok || strings.Contains(spec, "$") {
			continue // long syntax, or only known after interpolation
		}
		if _, err := loader.ParseVolume(spec); err != nil {
			l.fail(at("services", name, "volumes", fmt.Sprint(i)), "service %q: invalid volume %q: %s",
				name, spec, strings.TrimPrefix(err.Error(), "invalid spec: "+spec+": "))
		}
	}
}
