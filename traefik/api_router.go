package traefik

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// APIRouterFile is the internal file (see Dir.SetInternal) that routes the
// "traefik" entry point's /api to Traefik's API behind basic auth. The
// entry point is published on the host's loopback for the control plane,
// but Traefik also sits on the apps' network, where any container could
// otherwise read every route, host and middleware it serves.
const APIRouterFile = "dokploy-api"

// APIUser is the basic-auth user of the API router.
const APIUser = "dokploy"

// RenderAPIRouter renders APIRouterFile for password (hashed with bcrypt;
// Traefik's basicAuth checks it). The ping router is separate and stays open.
//
// current is the file as it is on disk (nil when there is none). When it
// was rendered for the same password it is returned unchanged: bcrypt
// costs ~70 ms of every start, and a fresh salt would rewrite the file
// and make Traefik reload for nothing. The file carries a SHA-256 of the
// password to tell; the password is 32 random bytes derived from the
// secret key, so a fast hash of it gives nothing away.
func RenderAPIRouter(password string, current []byte) ([]byte, error) {
	if len(password) < 16 {
		return nil, fmt.Errorf("traefik: API password must be at least 16 characters")
	}
	sum := sha256.Sum256([]byte(password))
	fingerprint := "# password-sha256 " + hex.EncodeToString(sum[:]) + "\n"
	header := Marker(APIRouterFile) + "\n" + fingerprint
	if bytes.HasPrefix(current, []byte(header)) {
		return current, nil
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("traefik: hash API password: %w", err)
	}
	auth := APIRouterFile + "-auth"
	cfg := dynamicConfig{HTTP: &httpConfig{
		Routers: map[string]*router{APIRouterFile: {
			EntryPoints: []string{EntryPointAPI},
			Rule:        "PathPrefix(`/api`)",
			Service:     "api@internal",
			Middlewares: []string{auth},
		}},
		Middlewares: map[string]*middleware{auth: {
			BasicAuth: &basicAuth{Users: []string{APIUser + ":" + string(hash)}, RemoveHeader: true},
		}},
	}}
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("traefik: render API router: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("traefik: render API router: %w", err)
	}
	return buf.Bytes(), nil
}
