package db

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// PasswordFile is where `make run` and `make test` (scripts/provision.sh)
// keep the random password of the local "dokploy" PostgreSQL role, inside
// the data directory, mode 0600.
const PasswordFile = "postgres.password"

// LocalDatabaseURL is the database URL used when DOKPLOY_DATABASE_URL is
// unset: the provisioned local server, with the password read from
// <dataDir>/postgres.password. Without that file the URL has no password
// and PostgreSQL's own error explains what is missing.
func LocalDatabaseURL(dataDir, database string) string {
	u := url.URL{Scheme: "postgres", Host: "127.0.0.1:5432", Path: "/" + database, RawQuery: "sslmode=disable"}
	u.User = url.User("dokploy")
	if b, err := os.ReadFile(filepath.Join(dataDir, PasswordFile)); err == nil {
		if pw := strings.TrimSpace(string(b)); pw != "" {
			u.User = url.UserPassword("dokploy", pw)
		}
	}
	return u.String()
}
