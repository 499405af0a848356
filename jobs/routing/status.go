package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/traefik"
)

// DomainStatus is one domain's state and, for errors, Traefik's message.
type DomainStatus struct {
	State  string
	Detail string
}

// Final reports whether the state will not change without a user action,
// so the page can stop polling.
func (s DomainStatus) Final() bool { return s.State != StatePending && s.State != StateNoCert }

// Status asks Traefik's API about each domain's routers (appName is the
// app's slug, or DashboardApp). One API call serves all domains.
// A nil Service reports every domain as unknown.
func (r *Service) Status(ctx context.Context, appName string, domains []db.Domain) map[int64]DomainStatus {
	out := make(map[int64]DomainStatus, len(domains))
	if r == nil {
		for _, d := range domains {
			out[d.ID] = DomainStatus{State: StateUnknown, Detail: "routing is not configured"}
		}
		return out
	}
	var names []string
	for _, d := range domains {
		if d.Enabled {
			names = append(names, domainRouters(appName, d)...)
		}
	}
	var states map[string]traefik.RouterState
	var routers map[string]traefik.RouterStatus
	var apiErr error
	if !r.Managed() {
		apiErr = errors.New("Traefik is not managed by this dashboard (DOKPLOY_TRAEFIK=off)")
	} else if len(names) > 0 {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		routers, apiErr = r.routers(ctx)
		states = routerStates(routers, names)
	}
	var issued map[string]bool
	var acmeErrors map[string]string
	for _, d := range domains {
		switch {
		case !d.Enabled:
			out[d.ID] = DomainStatus{State: StateDisabled}
		case apiErr != nil:
			out[d.ID] = DomainStatus{State: StateUnknown, Detail: apiErr.Error()}
		default:
			if issued == nil && d.HTTPS && d.Certificate == db.CertLetsEncrypt {
				issued = r.issuedHosts()
			}
			st := domainStatus(appName, d, states, routers, issued)
			if st.State == StateNoCert {
				if acmeErrors == nil {
					acmeErrors = r.acmeErrors(ctx)
				}
				if msg, ok := acmeErrors[d.Host]; ok {
					st = DomainStatus{State: StateError, Detail: "the certificate could not be issued: " + msg +
						" (the host must resolve to this server and port 80 must be reachable; Traefik retries on the next HTTPS request)"}
				}
			}
			out[d.ID] = st
		}
	}
	return out
}

func (r *Service) routers(ctx context.Context) (map[string]traefik.RouterStatus, error) {
	list, err := r.opts.API.Routers(ctx)
	if err != nil {
		return nil, fmt.Errorf("Traefik's API does not answer: %w", err)
	}
	out := make(map[string]traefik.RouterStatus, len(list))
	for _, rt := range list {
		out[rt.Name] = rt
	}
	return out, nil
}

func routerStates(routers map[string]traefik.RouterStatus, names []string) map[string]traefik.RouterState {
	out := make(map[string]traefik.RouterState, len(names))
	for _, n := range names {
		rt, ok := routers[n+"@file"]
		switch {
		case !ok:
			out[n] = traefik.StateMissing
		case rt.Status == "enabled" && len(rt.Errors) == 0:
			out[n] = traefik.StateEnabled
		case rt.Status == "warning":
			out[n] = traefik.StateWarning
		default:
			out[n] = traefik.StateError
		}
	}
	return out
}

func domainRouters(appName string, d db.Domain) []string {
	names := []string{traefik.RouterName(appName, d.ID, traefik.EntryPointWeb)}
	if d.HTTPS {
		names = append(names, traefik.RouterName(appName, d.ID, traefik.EntryPointWebSecure))
	}
	return names
}

func domainStatus(appName string, d db.Domain, states map[string]traefik.RouterState, routers map[string]traefik.RouterStatus, issued map[string]bool) DomainStatus {
	for _, n := range domainRouters(appName, d) {
		switch states[n] {
		case traefik.StateMissing:
			return DomainStatus{State: StatePending, Detail: "Traefik has not loaded router " + n + " yet"}
		case traefik.StateError, traefik.StateWarning:
			return DomainStatus{State: StateError, Detail: strings.Join(routers[n+"@file"].Errors, "; ")}
		}
	}
	switch {
	case !d.HTTPS:
		return DomainStatus{State: StateActive}
	case d.Certificate == db.CertLetsEncrypt && issued[d.Host]:
		return DomainStatus{State: StateIssued}
	case d.Certificate == db.CertLetsEncrypt:
		return DomainStatus{State: StateNoCert, Detail: "Traefik asks the ACME server when the first HTTPS request arrives; the host must resolve to this server"}
	case d.Certificate == db.CertCustom:
		return DomainStatus{State: StateActive, Detail: "uploaded certificate"}
	}
	return DomainStatus{State: StateActive, Detail: "HTTPS with Traefik's default certificate"}
}

// acmeCertificate is one certificate of acme.json: its hosts and its
// PEM (base64 in the file).
type acmeCertificate struct {
	Domain struct {
		Main string   `json:"main"`
		SANs []string `json:"sans"`
	} `json:"domain"`
	Certificate []byte `json:"certificate"`
}

// hosts are the certificate's main name and SANs.
func (c acmeCertificate) hosts() []string { return append([]string{c.Domain.Main}, c.Domain.SANs...) }

// acmeCertificates reads the Let's Encrypt resolver's certificates from
// acme.json (the API does not expose certificates); nil when there is
// none or the file does not parse.
func (r *Service) acmeCertificates() []acmeCertificate {
	data, err := os.ReadFile(filepath.Join(r.opts.ConfigDir, ACMEFile))
	if err != nil {
		return nil
	}
	var store map[string]struct {
		Certificates []acmeCertificate `json:"Certificates"`
	}
	if json.Unmarshal(data, &store) != nil {
		return nil
	}
	return store[traefik.ResolverLetsEncrypt].Certificates
}

// issuedHosts is every host Traefik holds an ACME certificate for.
func (r *Service) issuedHosts() map[string]bool {
	out := map[string]bool{}
	for _, c := range r.acmeCertificates() {
		for _, h := range c.hosts() {
			out[h] = true
		}
	}
	return out
}

// Ping reports whether Traefik's API answers.
func (r *Service) Ping(ctx context.Context) error {
	if !r.Managed() {
		return errors.New("not managed (DOKPLOY_TRAEFIK=off)")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return r.opts.API.Ping(ctx)
}

// acmeErrorLine matches Traefik's log line for a failed certificate order.
var acmeErrorLine = regexp.MustCompile(`Unable to obtain ACME certificate for domains.*?error="((?:[^"\\]|\\.)*)".*?domains=\[([^\]]*)\]`)

// acmeErrors maps hosts to the latest ACME failure in Traefik's log.
func (r *Service) acmeErrors(ctx context.Context) map[string]string {
	out := map[string]string{}
	if r.opts.Traefik == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	log, err := r.opts.Traefik.RecentLog(ctx)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(log, "\n") {
		m := acmeErrorLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		msg := strings.ReplaceAll(m[1], `\"`, `"`)
		for _, host := range strings.Split(m[2], ",") {
			out[strings.Trim(strings.TrimSpace(host), `"`)] = msg
		}
	}
	return out
}
