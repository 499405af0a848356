package engines

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"strings"
	"testing"

	"dokploy/db"
)

func TestPostgresDataPath_FollowsTheMajorVersion(t *testing.T) {
	for image, want := range map[string]string{
		"postgres:17":                 "/var/lib/postgresql/data",
		"postgres:16.4-alpine":        "/var/lib/postgresql/data",
		"pgvector/pgvector:pg17":      "/var/lib/postgresql/data",
		"postgis/postgis:16-3.4":      "/var/lib/postgresql/data",
		"registry.local:5000/pg:15.2": "/var/lib/postgresql/data",
		"postgres:18":                 "/var/lib/postgresql",
		"postgres:18.1-bookworm":      "/var/lib/postgresql",
		"postgres":                    "/var/lib/postgresql",
		"postgres:latest":             "/var/lib/postgresql",
	} {
		if got := postgresDataPath(image); got != want {
			t.Errorf("%s: %s, want %s", image, got, want)
		}
	}
}

func TestSpec_PasswordsOnlyInEnv(t *testing.T) {
	sec := db.DatabaseSecrets{Password: "Secret1234567890abcdefghijklmnop", RootPassword: "Root1234567890abcdefghijklmnopqr"}
	for _, e := range All {
		d := &db.Database{Name: "shop-db", Engine: e.ID, Image: e.DefaultImage, DatabaseName: "shop", Username: "shop",
			RedisPersistence: db.RedisAOF, Args: []string{"--extra"}}
		spec, err := Spec(d, sec)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range spec.Args {
			if strings.Contains(a, sec.Password) || strings.Contains(a, sec.RootPassword) {
				t.Errorf("%s: a password is in the arguments: %q", e.ID, spec.Args)
			}
		}
		found := false
		for _, v := range spec.Env {
			found = found || v == sec.Password
		}
		if !found {
			t.Errorf("%s: the password is not in the env %v", e.ID, keys(spec.Env))
		}
		if spec.Args[len(spec.Args)-1] != "--extra" {
			t.Errorf("%s: the user's argument is not passed: %q", e.ID, spec.Args)
		}
		x, err := ChangePassword(d, sec, "NewPassword1234567890")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range x.Cmd {
			if strings.Contains(a, "NewPassword") || strings.Contains(a, sec.Password) || strings.Contains(a, sec.RootPassword) {
				t.Errorf("%s: a password is in the command line of the password change: %q", e.ID, x.Cmd)
			}
		}
	}
}

func TestRedisArgs_Persistence(t *testing.T) {
	for p, want := range map[string]string{db.RedisAOF: "--appendonly yes", db.RedisRDB: "--appendonly no", db.RedisNone: `--appendonly no --save `} {
		args := redisArgs(p, nil)
		if args[0] != "sh" || args[3] != "redis-server" {
			t.Fatalf("%s: %q", p, args)
		}
		if got := strings.Join(args[4:], " "); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
}

func TestURL_MasksAndEscapes(t *testing.T) {
	d := &db.Database{Name: "shop-db", Engine: db.EnginePostgres, DatabaseName: "shop", Username: "shop"}
	if got := InternalURL(d, "pw", true); got != "postgresql://shop:********@shop-db:5432/shop" {
		t.Errorf("masked: %s", got)
	}
	if got := InternalURL(d, "pw", false); got != "postgresql://shop:pw@shop-db:5432/shop" {
		t.Errorf("plain: %s", got)
	}
	r := &db.Database{Name: "cache", Engine: db.EngineRedis}
	if got := URL(r, "pw", "10.0.0.5", 16379, false); got != "redis://default:pw@10.0.0.5:16379/0" {
		t.Errorf("redis: %s", got)
	}
	m := &db.Database{Name: "docs", Engine: db.EngineMongo, DatabaseName: "app", Username: "root"}
	if got := InternalURL(m, "pw", false); got != "mongodb://root:pw@docs:27017/app?authSource=admin" {
		t.Errorf("mongo: %s", got)
	}
}

// Ready answers like each engine's own ping: these servers speak just
// enough of each protocol to greet, refuse or succeed.
func TestReady_Protocols(t *testing.T) {
	serve := func(t *testing.T, answer func(net.Conn)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); answer(c) }()
			}
		}()
		return ln.Addr().String()
	}
	mysqlGreeting := func(first byte) func(net.Conn) {
		return func(c net.Conn) {
			body := append([]byte{first}, "5.5.5-10.11.6-MariaDB\x00"...)
			head := []byte{byte(len(body)), 0, 0, 0}
			_, _ = c.Write(append(head, body...))
		}
	}
	ctx := context.Background()
	if err := Ready(ctx, db.EngineMariaDB, serve(t, mysqlGreeting(10))); err != nil {
		t.Errorf("mysql handshake: %v", err)
	}
	if err := Ready(ctx, db.EngineMySQL, serve(t, func(c net.Conn) {})); err == nil {
		t.Error("a server that closes without a greeting is ready")
	}
	if err := Ready(ctx, db.EngineRedis, serve(t, func(c net.Conn) { _, _ = c.Write([]byte("-LOADING Redis is loading the dataset in memory\r\n")) })); err == nil {
		t.Error("a loading redis is ready")
	}
	if err := Ready(ctx, db.EngineRedis, serve(t, func(c net.Conn) { _, _ = c.Write([]byte("-NOAUTH Authentication required.\r\n")) })); err != nil {
		t.Errorf("redis with a password: %v", err)
	}
	mongoOK := func(c net.Conn) {
		head := make([]byte, 16)
		if _, err := c.Read(head); err != nil {
			return
		}
		doc := []byte{0x01, 'o', 'k', 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}
		full := bsonDoc(doc)
		body := append([]byte{0, 0, 0, 0, 0}, full...)
		reply := make([]byte, 16)
		binary.LittleEndian.PutUint32(reply, uint32(16+len(body)))
		_, _ = c.Write(append(reply, body...))
	}
	if err := Ready(ctx, db.EngineMongo, serve(t, mongoOK)); err != nil {
		t.Errorf("mongo ok: %v", err)
	}
	if err := Ready(ctx, db.EnginePostgres, serve(t, func(c net.Conn) {
		msg := []byte("SFATAL\x00C57P03\x00Mthe database system is starting up\x00\x00")
		head := []byte{'E', 0, 0, 0, 0}
		binary.BigEndian.PutUint32(head[1:], uint32(len(msg)+4))
		_, _ = c.Write(append(head, msg...))
	})); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Errorf("postgres starting up: %v", err)
	}
}

// The real servers this machine runs for the control plane answer ready.
func TestReady_RealServers(t *testing.T) {
	if os.Getenv("DOKPLOY_INTEGRATION") == "" {
		t.Skip("set DOKPLOY_INTEGRATION=1")
	}
	ctx := context.Background()
	if err := Ready(ctx, db.EnginePostgres, "127.0.0.1:5432"); err != nil {
		t.Errorf("PostgreSQL on 127.0.0.1:5432: %v", err)
	}
	if err := Ready(ctx, db.EngineRedis, "127.0.0.1:6379"); err != nil {
		t.Errorf("Redis on 127.0.0.1:6379: %v", err)
	}
	if err := Ready(ctx, db.EnginePostgres, "127.0.0.1:1"); err == nil {
		t.Error("nothing listening on port 1, yet ready")
	}
}

func keys(m map[string]string) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}
