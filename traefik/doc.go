// Package traefik renders and manages Traefik v3 configuration for dokploy.
// It imports no other project package, touches no database and no Docker:
// callers map their rows into App values.
//
// # Layout
//
// Static configuration (StaticConfig) defines entry points "web",
// "websecure" and "traefik" (API and /ping, keep it unpublished), the
// "letsencrypt" ACME resolver (HTTP-01 on web) and the file provider on one
// directory. Every app with at least one enabled domain gets exactly one
// file, <app>.yml, in that directory. Unlike Dokploy there is no shared
// middlewares.yml: each file is self-contained (its https redirect, path,
// redirect, auth and header middlewares and its custom certificates), so
// writing one app never touches another app's routing.
//
// Names inside a file are all "<app>-..." (RouterName documents the router
// names), which keeps them unique across files; Traefik silently keeps the
// first of two equal names.
//
// # Typical use
//
//	if err := traefik.Validate(app); err != nil { ... } // at the edge, per form
//	err := dir.Apply(app)                                // after a domain/redirect/auth change
//	report, err := dir.Reconcile(allApps)                // at startup
//	names, _ := traefik.RouterNames(app)
//	states, err := client.RouterState(ctx, names)        // health check
//
// # Why files are checked before they are written
//
// Traefik's file provider re-reads the whole directory on every change. One
// file that fails to parse freezes the provider: the last good configuration
// keeps serving but no further change from any file is applied, and the
// error only appears in Traefik's log, never in its API. At startup such a
// file prevents every file route from loading. Dir therefore writes only
// data that passes Check, and writes it atomically (temp file ending in
// ".tmp" in the same directory, which Traefik ignores, then rename).
//
// Traefik also runs each file through Go's text/template (with sprig) before
// parsing it. A "{{" in a header value or regex would be executed, and
// sprig's env function could leak Traefik's environment, so Validate
// rejects "{{" in every free-text field and Check rejects it in the file.
//
// # Ownership
//
// The first line of every rendered file is Marker(app). Dir only overwrites
// or deletes files carrying the marker; other files in the directory
// ("foreign", e.g. hand-written) are left alone and listed by Reconcile.
//
// # Known Traefik behaviours callers should know
//
//   - Host names are matched in punycode; NormalizeHost converts IDNs.
//   - PathPrefix(`/api`) also matches /apix: Traefik compares strings.
//   - The web→https redirect uses redirectScheme without a port, so it
//     targets port 443; websecure must be published on 443.
//   - Removing a custom certificate from a file does not unload it until
//     Traefik restarts (traefik#12358).
//   - With providersThrottleDuration at 100ms (StaticConfig's default) a
//     change is live in roughly 25–150 ms.
//   - Custom ACME CAs: set StaticOptions.ACMECAServer and
//     ACMECACertificates (acme.caCertificates); Traefik falls back to the
//     LEGO_CA_CERTIFICATES environment variable when the latter is unset.
package traefik
