// Package engines knows each database engine's contract: the environment
// variables, data path and port its official image uses, how to reach it
// (connection URLs), how to ask it whether it is ready, and how to change a
// user's password inside its container. It is pure: the runner turns what
// it returns into Docker calls.
package engines

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"dokploy/db"
)

// Engine describes one database engine.
type Engine struct {
	ID           string // db.EnginePostgres, …
	Label        string // shown in the UI
	DefaultImage string
	Port         int
	HasDatabase  bool // the engine has named databases the user picks
	HasUser      bool // the engine has a named user the user picks
	DefaultUser  string
	Scheme       string // of connection URLs
}

// All lists the engines in the order the UI offers them.
var All = []Engine{
	{ID: db.EnginePostgres, Label: "PostgreSQL", DefaultImage: "postgres:17", Port: 5432, HasDatabase: true, HasUser: true, Scheme: "postgresql"},
	{ID: db.EngineMySQL, Label: "MySQL", DefaultImage: "mysql:8", Port: 3306, HasDatabase: true, HasUser: true, Scheme: "mysql"},
	{ID: db.EngineMariaDB, Label: "MariaDB", DefaultImage: "mariadb:11", Port: 3306, HasDatabase: true, HasUser: true, Scheme: "mysql"},
	{ID: db.EngineMongo, Label: "MongoDB", DefaultImage: "mongo:8", Port: 27017, HasDatabase: true, HasUser: true, Scheme: "mongodb"},
	{ID: db.EngineRedis, Label: "Redis", DefaultImage: "redis:7", Port: 6379, DefaultUser: "default", Scheme: "redis"},
}

// Lookup finds an engine by id.
func Lookup(id string) (Engine, bool) {
	for _, e := range All {
		if e.ID == id {
			return e, true
		}
	}
	return Engine{}, false
}

// IDs lists the engine ids, for error messages.
func IDs() []string {
	out := make([]string, len(All))
	for i, e := range All {
		out[i] = e.ID
	}
	return out
}

// ContainerSpec is what the service needs beyond the common settings.
type ContainerSpec struct {
	Env        map[string]string
	Args       []string // replaces the image's CMD; the ENTRYPOINT stays
	DataPath   string   // where the <name>-data volume is mounted
	StopGrace  int      // seconds
	ProbeArgs  []string // arguments to the probe binary: it answers 0 when ready
	ReadyGrace int      // seconds to start before failed probes count
}

// VolumeName is the data volume of a database service.
func VolumeName(serviceName string) string { return serviceName + "-data" }

// Spec returns what the engine's container needs, the passwords going
// only into the environment.
func Spec(d *db.Database, sec db.DatabaseSecrets) (ContainerSpec, error) {
	e, ok := Lookup(d.Engine)
	if !ok {
		return ContainerSpec{}, fmt.Errorf("unknown engine %q", d.Engine)
	}
	out := ContainerSpec{
		StopGrace: 120, ReadyGrace: 60,
		ProbeArgs: []string{"probe-db", e.ID, strconv.Itoa(e.Port)},
	}
	switch e.ID {
	case db.EnginePostgres:
		out.Env = map[string]string{"POSTGRES_USER": d.Username, "POSTGRES_PASSWORD": sec.Password, "POSTGRES_DB": d.DatabaseName}
		out.DataPath = postgresDataPath(d.Image)
		out.Args = d.Args
	case db.EngineMySQL, db.EngineMariaDB:
		prefix := "MYSQL_"
		if e.ID == db.EngineMariaDB {
			prefix = "MARIADB_"
		}
		out.Env = map[string]string{
			prefix + "ROOT_PASSWORD": sec.RootPassword, prefix + "DATABASE": d.DatabaseName,
			prefix + "USER": d.Username, prefix + "PASSWORD": sec.Password,
		}
		out.DataPath = "/var/lib/mysql"
		out.Args = d.Args
	case db.EngineMongo:
		out.Env = map[string]string{
			"MONGO_INITDB_ROOT_USERNAME": d.Username, "MONGO_INITDB_ROOT_PASSWORD": sec.Password,
			"MONGO_INITDB_DATABASE": d.DatabaseName,
		}
		out.DataPath = "/data/db"
		out.Args = d.Args
	case db.EngineRedis:
		out.Env = map[string]string{"REDIS_PASSWORD": sec.Password}
		out.DataPath = "/data"
		out.StopGrace = 60
		out.Args = redisArgs(d.RedisPersistence, d.Args)
	}
	// An empty Args keeps the image's CMD.
	if len(out.Args) == 0 {
		out.Args = nil
	}
	return out, nil
}

// redisScript starts redis-server with the password from the environment
// as its configuration on stdin, so it never appears in a command line
// (ps, docker inspect). It is a fixed script: the user's arguments reach
// redis-server as positional parameters, never as shell code. The image's
// docker-entrypoint.sh, when present, still drops root and owns /data.
const redisScript = `if command -v docker-entrypoint.sh >/dev/null 2>&1; then set -- docker-entrypoint.sh redis-server - "$@"; else set -- redis-server - "$@"; fi
exec "$@" <<EOF
requirepass $REDIS_PASSWORD
EOF
`

func redisArgs(persistence string, extra []string) []string {
	args := []string{"sh", "-c", redisScript, "redis-server"}
	switch persistence {
	case db.RedisRDB:
		args = append(args, "--appendonly", "no")
	case db.RedisNone:
		args = append(args, "--appendonly", "no", "--save", "")
	default:
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	}
	return append(args, extra...)
}

// pgMajor finds the PostgreSQL major version in an image tag: postgres:17,
// postgres:18.1-alpine, pgvector/pgvector:pg18, postgis/postgis:16-3.4.
var pgMajor = regexp.MustCompile(`^(?:pg)?(\d+)`)

// postgresDataPath is where the data volume goes. The official images up
// to 17 keep PGDATA in /var/lib/postgresql/data; 18 and later put a
// versioned directory under /var/lib/postgresql, which is their volume.
// An untagged or "latest" image is the newest major.
func postgresDataPath(image string) string {
	if major := PostgresMajor(image); major > 0 && major < 18 {
		return "/var/lib/postgresql/data"
	}
	return "/var/lib/postgresql"
}

// PostgresMajor reads the major version from an image's tag, 0 when the
// tag does not say (latest, a digest, a name).
func PostgresMajor(image string) int {
	tag := ImageTag(image)
	m := pgMajor.FindStringSubmatch(tag)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// ImageTag returns the tag of an image reference, "" when it has none.
func ImageTag(image string) string {
	image, _, _ = strings.Cut(image, "@")
	slash := strings.LastIndexByte(image, '/')
	if colon := strings.LastIndexByte(image, ':'); colon > slash {
		return image[colon+1:]
	}
	return ""
}

// MajorVersion is the leading number of an image's tag (8 for mysql:8.4),
// 0 when the tag does not start with one.
func MajorVersion(image string) int { return PostgresMajor(image) }

// URL is a connection URL for host:port. With mask the password shows as
// asterisks, which is what pages and API answers carry until revealed.
func URL(d *db.Database, password, host string, port int, mask bool) string {
	e, _ := Lookup(d.Engine)
	if mask && password != "" {
		password = "********"
	}
	u := url.URL{Scheme: e.Scheme, Host: host + ":" + strconv.Itoa(port)}
	switch e.ID {
	case db.EngineRedis:
		u.User = url.UserPassword(e.DefaultUser, password)
		u.Path = "/0"
	case db.EngineMongo:
		u.User = url.UserPassword(d.Username, password)
		u.Path = "/" + d.DatabaseName
		u.RawQuery = "authSource=admin"
	default:
		u.User = url.UserPassword(d.Username, password)
		u.Path = "/" + d.DatabaseName
	}
	s := u.String()
	if mask {
		// url escapes the asterisks; the mask is for people, keep it plain.
		s = strings.Replace(s, "%2A%2A%2A%2A%2A%2A%2A%2A", "********", 1)
	}
	return s
}

// InternalURL is how apps on dokploy-network reach the database.
func InternalURL(d *db.Database, password string, mask bool) string {
	e, _ := Lookup(d.Engine)
	return URL(d, password, d.Name, e.Port, mask)
}

// Exec is a command run inside the database's container: argv, extra
// environment (where the passwords go), the user and what goes to stdin.
type Exec struct {
	Cmd   []string
	Env   []string
	User  string
	Stdin string
}

// ChangePassword returns the command that sets user's password to
// newPassword in the running engine, authenticated as it allows locally.
// Passwords travel in env and stdin only. The names are validated DNS-ish
// identifiers and the passwords come from a safe alphabet, so quoting them
// as SQL literals below cannot be escaped.
func ChangePassword(d *db.Database, sec db.DatabaseSecrets, newPassword string) (Exec, error) {
	switch d.Engine {
	case db.EnginePostgres:
		// The image trusts local socket connections.
		return Exec{
			Cmd:   []string{"psql", "-v", "ON_ERROR_STOP=1", "-q", "-U", d.Username, "-d", d.DatabaseName},
			User:  "postgres",
			Stdin: fmt.Sprintf("ALTER ROLE %s WITH PASSWORD %s;\n", quoteIdent(d.Username), quoteLiteral(newPassword)),
		}, nil
	case db.EngineMySQL, db.EngineMariaDB:
		client := "mysql"
		if d.Engine == db.EngineMariaDB {
			client = "mariadb"
		}
		return Exec{
			Cmd:   []string{client, "-uroot", "-h", "localhost"},
			Env:   []string{"MYSQL_PWD=" + sec.RootPassword},
			Stdin: fmt.Sprintf("ALTER USER %s@'%%' IDENTIFIED BY %s;\nFLUSH PRIVILEGES;\n", quoteLiteral(d.Username), quoteLiteral(newPassword)),
		}, nil
	case db.EngineMongo:
		// mongosh reads the script from stdin and the secrets from its env.
		return Exec{
			Cmd: []string{"mongosh", "--quiet", "--nodb"},
			Env: []string{"DOKPLOY_USER=" + d.Username, "DOKPLOY_OLD=" + sec.Password, "DOKPLOY_NEW=" + newPassword},
			Stdin: `const e = process.env;
const conn = connect("mongodb://" + encodeURIComponent(e.DOKPLOY_USER) + ":" + encodeURIComponent(e.DOKPLOY_OLD) + "@127.0.0.1:27017/admin");
conn.changeUserPassword(e.DOKPLOY_USER, e.DOKPLOY_NEW);
`,
		}, nil
	case db.EngineRedis:
		return Exec{
			Cmd:   []string{"redis-cli", "--no-auth-warning"},
			Env:   []string{"REDISCLI_AUTH=" + sec.Password},
			Stdin: "CONFIG SET requirepass " + newPassword + "\n",
		}, nil
	}
	return Exec{}, fmt.Errorf("unknown engine %q", d.Engine)
}

// PasswordInEnvOnly reports whether the engine reads its password from the
// environment at every start (Redis), so the service must be updated for a
// new password to survive a restart; the others keep it in the data.
func PasswordInEnvOnly(engine string) bool { return engine == db.EngineRedis }

func quoteIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
