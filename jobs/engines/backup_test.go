package engines

import (
	"strings"
	"testing"

	"dokploy/db"
)

func TestBackupDumpKeepsPasswordsOutOfArgv(t *testing.T) {
	sec := db.DatabaseSecrets{Password: "Secret-User-Password-1", RootPassword: "Secret-Root-Password-2"}
	wantExt := map[string]string{db.EnginePostgres: ".dump", db.EngineMySQL: ".sql.gz", db.EngineMariaDB: ".sql.gz", db.EngineMongo: ".archive.gz", db.EngineRedis: ".rdb"}
	for _, e := range All {
		d := &db.Database{Engine: e.ID, Name: "shop-db", DatabaseName: "shop_db", Username: "shop_user", Image: e.DefaultImage}
		dump, err := BackupDump(d, sec)
		if err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		argv := strings.Join(dump.Cmd, " ")
		if strings.Contains(argv, sec.Password) || strings.Contains(argv, sec.RootPassword) {
			t.Errorf("%s: a password is in argv: %s", e.ID, argv)
		}
		if secrets := strings.Join(dump.Env, " ") + dump.Stdin; !strings.Contains(secrets, "Secret-") {
			t.Errorf("%s: the dump gets no password through env or stdin", e.ID)
		}
		if dump.Ext != wantExt[e.ID] {
			t.Errorf("%s: extension %q, want %q", e.ID, dump.Ext, wantExt[e.ID])
		}
		if strings.HasSuffix(dump.Ext, ".gz") != (dump.Gzip || dump.Format == FormatMongoArchive) {
			t.Errorf("%s: extension %q but gzip %v: the extension must tell the truth", e.ID, dump.Ext, dump.Gzip)
		}
		r, err := RestoreArtifact(d, sec, dump.Format, "shop_db")
		if err != nil {
			t.Fatalf("%s restore: %v", e.ID, err)
		}
		if argv := strings.Join(r.Cmd, " "); strings.Contains(argv, sec.Password) || strings.Contains(argv, sec.RootPassword) {
			t.Errorf("%s: a password is in the restore argv: %s", e.ID, argv)
		}
	}
	mysql := &db.Database{Engine: db.EngineMySQL, DatabaseName: "shop_db"}
	dump, _ := BackupDump(mysql, sec)
	for _, flag := range []string{"--single-transaction", "--routines", "--events", "--triggers"} {
		if !strings.Contains(strings.Join(dump.Cmd, " "), flag) {
			t.Errorf("mysqldump lacks %s", flag)
		}
	}
}

func TestRestoreRefusesOtherFormats(t *testing.T) {
	d := &db.Database{Engine: db.EnginePostgres, DatabaseName: "x", Username: "x"}
	if _, err := RestoreArtifact(d, db.DatabaseSecrets{}, FormatSQLGzip, "x"); err == nil || !strings.Contains(err.Error(), "cannot be restored") {
		t.Fatalf("restoring a MySQL dump into PostgreSQL: %v", err)
	}
}

func TestParseCounts(t *testing.T) {
	inv, err := ParseCounts("public.notes\t2\npublic.users\t13\n", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Tables != 2 || inv.Rows != 15 || inv.Summary() != "2 tables, 15 rows (notes 2, users 13)" {
		t.Fatalf("inventory %+v %q", inv, inv.Summary())
	}
	if _, err := ParseCounts("garbage line", "tables"); err == nil {
		t.Fatal("a line without a count was accepted")
	}
	empty, err := ParseCounts("", "tables")
	if err != nil || empty.Summary() != "0 tables, 0 rows" {
		t.Fatalf("empty: %+v %v", empty, err)
	}
	ks := ParseKeyspace("# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb2:keys=4,expires=1,avg_ttl=0\r\n")
	if ks.Rows != 7 || ks.Summary() != "7 keys" {
		t.Fatalf("keyspace %+v", ks)
	}
}

func TestCountTablesQuotesNames(t *testing.T) {
	ex := CountTables(&db.Database{Engine: db.EngineMariaDB, DatabaseName: "x"}, db.DatabaseSecrets{}, []string{"a`b", "it's"})
	if !strings.Contains(ex.Stdin, "FROM `a``b`") || !strings.Contains(ex.Stdin, "'it''s'") {
		t.Fatalf("names not quoted: %s", ex.Stdin)
	}
}
