package ops

import (
	"strings"
	"testing"

	"dokploy/db"
)

func TestGeneratePassword_LongAndFromTheWholeAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for range 200 {
		p, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) < 32 {
			t.Fatalf("password %q shorter than 32", p)
		}
		if err := ValidatePassword(p); err != nil {
			t.Fatalf("a generated password is refused: %v", err)
		}
		for _, r := range p {
			seen[r] = true
		}
	}
	if len(seen) != len(passwordAlphabet) {
		t.Errorf("200 passwords used %d of the %d characters", len(seen), len(passwordAlphabet))
	}
}

func TestValidateDatabase_NamesTheField(t *testing.T) {
	valid := func() *db.Database {
		d := NewDatabase(1, db.EnginePostgres, "shop-db")
		applyNameDefaults(d)
		return d
	}
	if errs := ValidateDatabase(valid()); len(errs) != 0 {
		t.Fatalf("defaults refused: %v", errs)
	}
	d := valid()
	if d.DatabaseName != "shop_db" || d.Username != "shop_db" || d.Image != "postgres:17" {
		t.Fatalf("defaults: %+v", d)
	}
	cases := map[string]func(*db.Database){
		"engine":            func(d *db.Database) { d.Engine = "oracle" },
		"name":              func(d *db.Database) { d.Name = "Shop DB" },
		"image":             func(d *db.Database) { d.Image = "postgres 17" },
		"database":          func(d *db.Database) { d.DatabaseName = "shop-db; DROP" },
		"user":              func(d *db.Database) { d.Username = "x'y" },
		"args":              func(d *db.Database) { d.Args = []string{"-c\nfoo"} },
		"memory_limit_mb":   func(d *db.Database) { d.MemoryLimitMB = 3 },
		"redis_persistence": func(d *db.Database) { d.RedisPersistence = "always" },
	}
	for field, mutate := range cases {
		d := valid()
		mutate(d)
		if errs := ValidateDatabase(d); errs[field] == "" {
			t.Errorf("%s: not refused (%v)", field, errs)
		}
	}
	m := NewDatabase(1, db.EngineMySQL, "shop")
	m.Username = "root"
	applyNameDefaults(m)
	if errs := ValidateDatabase(m); !strings.Contains(errs["user"], "root") {
		t.Errorf("mysql user root: %v", errs)
	}
	r := NewDatabase(1, db.EngineRedis, "cache")
	r.DatabaseName, r.Username = "ignored", "ignored"
	applyNameDefaults(r)
	if errs := ValidateDatabase(r); len(errs) != 0 || r.DatabaseName != "" || r.Username != "" {
		t.Errorf("redis has no database or user: %+v %v", r, errs)
	}
}

func TestDatabaseExtras_EnvMayNotSetTheEnginesVariables(t *testing.T) {
	d := NewDatabase(1, db.EnginePostgres, "shop")
	applyNameDefaults(d)
	env := []db.Variable{{Key: "POSTGRES_PASSWORD", Value: "x"}}
	x := DatabaseExtras{Env: &env}
	if err := x.validate(d, DefaultReservedPorts); err == nil || !strings.Contains(err.Error(), "POSTGRES_PASSWORD") {
		t.Errorf("POSTGRES_PASSWORD in extra env: %v", err)
	}
	port := 5432
	x = DatabaseExtras{ExternalPort: &port}
	if err := x.validate(d, DefaultReservedPorts); err == nil {
		t.Error("the platform's PostgreSQL port was accepted as an external port")
	}
}

func TestMajorVersionWarning(t *testing.T) {
	d := &db.Database{Engine: db.EnginePostgres, Image: "postgres:16"}
	if w := MajorVersionWarning(d, "postgres:16.4"); w != "" {
		t.Errorf("minor change warned: %s", w)
	}
	if w := MajorVersionWarning(d, "postgres:17"); !strings.Contains(w, "16 → 17") {
		t.Errorf("major change: %q", w)
	}
	if w := MajorVersionWarning(d, "postgres:15"); !strings.Contains(w, "downgrade") {
		t.Errorf("downgrade: %q", w)
	}
}
