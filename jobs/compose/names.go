package compose

import (
	"errors"
	"fmt"
	"regexp"
)

// maxNameLen is the DNS label limit. Swarm service names become DNS names
// on the stack's networks, so "<stack>_<service>" must fit one label.
const maxNameLen = 63

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ValidateStackName reports whether name can be a Swarm stack namespace: a
// DNS label of lowercase letters, digits and '-'. No '_' either, so that the
// prefix "<stack>_" of a scoped name belongs to exactly one stack.
func ValidateStackName(name string) error {
	if name == "" {
		return errors.New("the stack name is empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("stack name %q is longer than %d characters", name, maxNameLen)
	}
	if !dnsLabel.MatchString(name) {
		return fmt.Errorf("stack name %q is not a DNS label: use lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// checkServiceName explains why a service name cannot be used, or returns "".
func (l *loading) checkServiceName(name string) string {
	if !dnsLabel.MatchString(name) {
		return fmt.Sprintf("service name %q is not a DNS label: use lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	if scoped := l.ns.Scope(name); len(scoped) > maxNameLen {
		return fmt.Sprintf("service name %q is too long: the Swarm service %q would be longer than %d characters", name, scoped, maxNameLen)
	}
	return ""
}
