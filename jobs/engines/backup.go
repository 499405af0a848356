package engines

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"dokploy/db"
)

// Dump is how to back up an engine from inside its container: the tool
// writes the artifact to stdout, its passwords come from Env.
type Dump struct {
	Exec
	Format      string // recorded on the run and in the sidecar
	Ext         string // the file name's extension, which tells the format
	Gzip        bool   // the runner compresses the tool's plain output
	ContentType string
}

// Formats of backup artifacts.
const (
	FormatPgCustom     = "pg_dump-custom"
	FormatSQLGzip      = "sql-gzip"
	FormatMongoArchive = "mongodump-archive-gzip"
	FormatRDB          = "redis-rdb"
)

// BackupDump returns the dump command of d's engine.
func BackupDump(d *db.Database, sec db.DatabaseSecrets) (Dump, error) {
	switch d.Engine {
	case db.EnginePostgres:
		// Custom format: compressed, and pg_restore can clean and
		// restore it selectively.
		return Dump{
			Exec:   Exec{Cmd: []string{"pg_dump", "-Fc", "-U", d.Username, "-d", d.DatabaseName}, User: "postgres", Env: []string{"PGPASSWORD=" + sec.Password}},
			Format: FormatPgCustom, Ext: ".dump", ContentType: "application/octet-stream",
		}, nil
	case db.EngineMySQL, db.EngineMariaDB:
		// Only the tables of the one database (no CREATE DATABASE / USE),
		// so the dump restores into a database of another name too.
		return Dump{
			Exec: Exec{
				Cmd: []string{mysqlTool(d.Engine, "dump"), "--single-transaction", "--routines", "--events", "--triggers",
					"--hex-blob", "--default-character-set=utf8mb4", "-uroot", "-h", "localhost", d.DatabaseName},
				Env: []string{"MYSQL_PWD=" + sec.RootPassword},
			},
			Format: FormatSQLGzip, Ext: ".sql.gz", Gzip: true, ContentType: "application/gzip",
		}, nil
	case db.EngineMongo:
		// mongodump reads the password from a config file: /dev/stdin,
		// so it is in neither argv nor the environment of other processes.
		return Dump{
			Exec: Exec{
				Cmd: []string{"mongodump", "--archive", "--gzip", "--quiet", "--db", d.DatabaseName,
					"--username", d.Username, "--authenticationDatabase", "admin", "--config", "/dev/stdin"},
				Stdin: mongoConfig(sec.Password),
			},
			Format: FormatMongoArchive, Ext: ".archive.gz", ContentType: "application/gzip",
		}, nil
	case db.EngineRedis:
		// A point-in-time RDB snapshot the server makes on request.
		return Dump{
			Exec:   Exec{Cmd: []string{"redis-cli", "--no-auth-warning", "--rdb", "-"}, Env: []string{"REDISCLI_AUTH=" + sec.Password}},
			Format: FormatRDB, Ext: ".rdb", ContentType: "application/octet-stream",
		}, nil
	}
	return Dump{}, fmt.Errorf("unknown engine %q", d.Engine)
}

// VersionExec prints the version of the engine's dump tool, recorded with
// each artifact (restores need a tool at least as new).
func VersionExec(d *db.Database) Exec {
	tool := map[string]string{
		db.EnginePostgres: "pg_dump", db.EngineMySQL: mysqlTool(db.EngineMySQL, "dump"),
		db.EngineMariaDB: mysqlTool(db.EngineMariaDB, "dump"), db.EngineMongo: "mongodump", db.EngineRedis: "redis-server",
	}[d.Engine]
	return Exec{Cmd: []string{tool, "--version"}}
}

// Restore is how to load an artifact into a running engine: the artifact
// goes to the command's stdin (unzipped first when Gunzip).
type Restore struct {
	Exec
	Gunzip bool
	// ConfigFile is written into the container first (mode 0600) and
	// removed after, for tools that read secrets only from a file.
	ConfigFile, ConfigBody string
}

// RestoreArtifact returns how to restore an artifact of format into d,
// replacing the objects the artifact holds. fromDatabase is the database
// name the artifact was taken of (MongoDB renames on restore). Redis has
// no such command: its RDB file replaces the data file (see RDBFile).
func RestoreArtifact(d *db.Database, sec db.DatabaseSecrets, format, fromDatabase string) (Restore, error) {
	want := map[string]string{db.EnginePostgres: FormatPgCustom, db.EngineMySQL: FormatSQLGzip, db.EngineMariaDB: FormatSQLGzip,
		db.EngineMongo: FormatMongoArchive, db.EngineRedis: FormatRDB}[d.Engine]
	if format != want {
		return Restore{}, fmt.Errorf("a %s artifact cannot be restored into %s (it needs %s)", format, d.Engine, want)
	}
	switch d.Engine {
	case db.EnginePostgres:
		return Restore{Exec: Exec{
			Cmd: []string{"pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
				"--exit-on-error", "-U", d.Username, "-d", d.DatabaseName},
			User: "postgres", Env: []string{"PGPASSWORD=" + sec.Password},
		}}, nil
	case db.EngineMySQL, db.EngineMariaDB:
		return Restore{Exec: Exec{
			Cmd: []string{mysqlTool(d.Engine, ""), "--default-character-set=utf8mb4", "-uroot", "-h", "localhost", d.DatabaseName},
			Env: []string{"MYSQL_PWD=" + sec.RootPassword},
		}, Gunzip: true}, nil
	case db.EngineMongo:
		const cfg = "/tmp/.dokploy-restore.yaml"
		if fromDatabase == "" {
			fromDatabase = d.DatabaseName
		}
		return Restore{Exec: Exec{Cmd: []string{"mongorestore", "--archive", "--gzip", "--drop", "--quiet",
			"--nsFrom", fromDatabase + ".*", "--nsTo", d.DatabaseName + ".*",
			"--username", d.Username, "--authenticationDatabase", "admin", "--config", cfg}},
			ConfigFile: cfg, ConfigBody: mongoConfig(sec.Password)}, nil
	case db.EngineRedis:
		return Restore{}, nil
	}
	return Restore{}, fmt.Errorf("unknown engine %q", d.Engine)
}

// RDBFile is where a Redis restore puts the artifact, in the data volume;
// AOFDir is what it removes first so the server loads the RDB file.
const (
	RDBFile = "dump.rdb"
	AOFDir  = "appendonlydir"
)

// Inventory is what a drill counts in a restored database.
type Inventory struct {
	Tables int    // tables, collections, or Redis databases with keys
	Rows   int64  // rows, documents or keys
	Detail string // "users 3, orders 12"
	Noun   string // "tables", "collections", "keys"
}

// Summary reads "3 tables, 15 rows (users 3, orders 12)".
func (i Inventory) Summary() string {
	if i.Noun == "keys" {
		return fmt.Sprintf("%d keys", i.Rows)
	}
	s := fmt.Sprintf("%d %s, %d rows", i.Tables, i.Noun, i.Rows)
	if i.Detail != "" {
		s += " (" + i.Detail + ")"
	}
	return s
}

// ListTables returns the command listing d's tables (one a line) and,
// given that list, the command counting each table's rows (name<TAB>count
// a line). Redis and MongoDB count in one step: Tables is their only one.
func ListTables(d *db.Database, sec db.DatabaseSecrets) (Exec, error) {
	switch d.Engine {
	case db.EnginePostgres:
		// Counts every table in one query: no second step needed.
		return Exec{Cmd: []string{"psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-U", d.Username, "-d", d.DatabaseName},
			User: "postgres", Env: []string{"PGPASSWORD=" + sec.Password}, Stdin: pgCountAll}, nil
	case db.EngineMySQL, db.EngineMariaDB:
		return Exec{Cmd: []string{mysqlTool(d.Engine, ""), "-N", "-B", "-uroot", "-h", "localhost", d.DatabaseName},
			Env:   []string{"MYSQL_PWD=" + sec.RootPassword},
			Stdin: "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name;\n"}, nil
	case db.EngineRedis:
		return Exec{Cmd: []string{"redis-cli", "--no-auth-warning", "INFO", "keyspace"}, Env: []string{"REDISCLI_AUTH=" + sec.Password}}, nil
	case db.EngineMongo:
		return Exec{Cmd: []string{"mongosh", "--quiet", "--nodb"},
			Env:   []string{"DOKPLOY_USER=" + d.Username, "DOKPLOY_PASSWORD=" + sec.Password, "DOKPLOY_DB=" + d.DatabaseName},
			Stdin: mongoCountAll}, nil
	}
	return Exec{}, fmt.Errorf("unknown engine %q", d.Engine)
}

// CountTables returns the second step for MySQL and MariaDB: one query
// counting each listed table exactly. Names come from the restored data,
// so each is quoted as an identifier.
func CountTables(d *db.Database, sec db.DatabaseSecrets, tables []string) Exec {
	var q strings.Builder
	for i, t := range tables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT %s, COUNT(*) FROM `%s`", quoteLiteral(t), strings.ReplaceAll(t, "`", "``"))
	}
	q.WriteString(";\n")
	return Exec{Cmd: []string{mysqlTool(d.Engine, ""), "-N", "-B", "-uroot", "-h", "localhost", d.DatabaseName},
		Env: []string{"MYSQL_PWD=" + sec.RootPassword}, Stdin: q.String()}
}

// NeedsCountStep reports whether ListTables only lists (MySQL, MariaDB).
func NeedsCountStep(engine string) bool {
	return engine == db.EngineMySQL || engine == db.EngineMariaDB
}

// pgCountAll counts the rows of every user table in one statement.
const pgCountAll = `SELECT format('%I.%I', table_schema, table_name),
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text::bigint
FROM information_schema.tables
WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'
ORDER BY 1;
`

const mongoCountAll = `const e = process.env;
const conn = connect("mongodb://" + encodeURIComponent(e.DOKPLOY_USER) + ":" + encodeURIComponent(e.DOKPLOY_PASSWORD) + "@127.0.0.1:27017/admin");
const d = conn.getSiblingDB(e.DOKPLOY_DB);
d.getCollectionNames().sort().forEach(c => print(c + "\t" + d.getCollection(c).countDocuments({})));
`

// ParseCounts reads "name<TAB>count" lines (PostgreSQL, MongoDB, the
// MySQL second step) into an inventory.
func ParseCounts(out, noun string) (Inventory, error) {
	inv := Inventory{Noun: noun}
	var parts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, count, ok := strings.Cut(line, "\t")
		n, err := strconv.ParseInt(strings.TrimSpace(count), 10, 64)
		if !ok || err != nil {
			return inv, fmt.Errorf("unexpected line from the count: %q", line)
		}
		inv.Tables++
		inv.Rows += n
		parts = append(parts, fmt.Sprintf("%s %d", strings.TrimPrefix(name, "public."), n))
	}
	if len(parts) > 20 {
		parts = append(parts[:20], fmt.Sprintf("… %d more", len(parts)-20))
	}
	inv.Detail = strings.Join(parts, ", ")
	return inv, nil
}

var keyspaceLine = regexp.MustCompile(`(?m)^db(\d+):keys=(\d+)`)

// ParseKeyspace reads redis-cli INFO keyspace.
func ParseKeyspace(out string) Inventory {
	inv := Inventory{Noun: "keys"}
	var dbs []string
	for _, m := range keyspaceLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		inv.Tables++
		inv.Rows += n
		dbs = append(dbs, "db"+m[1])
	}
	sort.Strings(dbs)
	inv.Detail = strings.Join(dbs, ", ")
	return inv
}

// ParseTableList reads the MySQL table list.
func ParseTableList(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, line)
		}
	}
	return names
}

// mysqlTool names MariaDB's or MySQL's client ("") or dump tool ("dump"):
// MariaDB 11 images no longer ship the mysql* names.
func mysqlTool(engine, suffix string) string {
	if engine == db.EngineMariaDB {
		if suffix == "" {
			return "mariadb"
		}
		return "mariadb-" + suffix
	}
	return "mysql" + suffix
}

func mongoConfig(password string) string {
	return "password: " + strconv.Quote(password) + "\n"
}
