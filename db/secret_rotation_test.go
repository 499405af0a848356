package db_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"dokploy/db"
	"dokploy/db/dbtest"
)

const (
	oldKey = "old-secret-key-0123456789abcdef-0123456789"
	newKey = "new-secret-key-fedcba9876543210-fedcba9876"
)

// legacySeal seals the way values were sealed before key ids: nonce | ciphertext.
func legacySeal(t *testing.T, secret, plaintext string) []byte {
	t.Helper()
	k := sha256.Sum256([]byte(secret))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(plaintext), nil)
}

func writeKeys(t *testing.T, path string, keys ...string) {
	t.Helper()
	var ring [][]byte
	for _, k := range keys {
		ring = append(ring, []byte(k))
	}
	if err := db.WriteKeyFile(path, ring); err != nil {
		t.Fatal(err)
	}
}

func keyFileStore(t *testing.T, base *db.Store, path string) *db.Store {
	t.Helper()
	c, err := db.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return db.NewStore(base.DB(), c)
}

func TestCipher_KeyIDHeaderAndLegacyValues(t *testing.T) {
	ring, err := db.NewKeyRing([][]byte{[]byte(newKey), []byte(oldKey)})
	if err != nil {
		t.Fatal(err)
	}
	sealed := ring.Seal("hunter2")
	if got := db.SealedKeyID(sealed); got != db.KeyID([]byte(newKey)) || len(got) != 8 {
		t.Fatalf("sealed under key id %q, want the newest key's %q", got, db.KeyID([]byte(newKey)))
	}
	if ring.KeyID() != db.KeyID([]byte(newKey)) || strings.Join(ring.KeyIDs(), ",") != db.KeyID([]byte(newKey))+","+db.KeyID([]byte(oldKey)) {
		t.Fatalf("ring ids %v", ring.KeyIDs())
	}
	if v, err := ring.Open(sealed); err != nil || v != "hunter2" {
		t.Fatalf("open: %q %v", v, err)
	}
	// Values from before key ids open with whichever key of the ring sealed them.
	for _, secret := range []string{newKey, oldKey} {
		legacy := legacySeal(t, secret, "from-before-key-ids")
		if db.SealedKeyID(legacy) != "" && legacy[0] != 1 {
			t.Fatal("legacy value read as having a key id")
		}
		if v, err := ring.Open(legacy); err != nil || v != "from-before-key-ids" {
			t.Fatalf("legacy value of %.3s: %q %v", secret, v, err)
		}
	}
	// Under a key the ring does not hold: the error names the key id.
	other, _ := db.NewCipher([]byte("a-third-key-that-is-long-enough-000000"))
	_, err = ring.Open(other.Seal("x"))
	if err == nil || !strings.Contains(err.Error(), other.KeyID()) {
		t.Fatalf("foreign value: %v", err)
	}
	if _, err := ring.Open(legacySeal(t, "a-third-key-that-is-long-enough-000000", "x")); err == nil {
		t.Fatal("a legacy value of a foreign key opened")
	}
}

// A server's cipher follows its key file: a value sealed under a key
// installed after it started opens at once, and it seals with the new key
// within KeyRecheck.
func TestCipher_KeyFileRotatedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	writeKeys(t, path, oldKey)
	server, err := db.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before := server.Seal("sealed-before")
	writeKeys(t, path, newKey, oldKey)
	rotator, err := db.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := server.Open(rotator.Seal("sealed-by-the-rotation")); err != nil || v != "sealed-by-the-rotation" {
		t.Fatalf("server opens the new key's value: %q %v", v, err)
	}
	if v, err := rotator.Open(before); err != nil || v != "sealed-before" {
		t.Fatalf("the previous key still opens old values: %q %v", v, err)
	}
	time.Sleep(db.KeyRecheck + 100*time.Millisecond)
	if got := db.SealedKeyID(server.Seal("later")); got != db.KeyID([]byte(newKey)) {
		t.Fatalf("server seals under %s after the rotation, want %s", got, db.KeyID([]byte(newKey)))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if string(data) != newKey+"\n"+oldKey+"\n" {
		t.Errorf("key file holds %q", data)
	}
}

// seedSecrets stores one secret in every encrypted column through the
// store's own methods and returns a reader of them all, by name.
func seedSecrets(t *testing.T, store *db.Store) func(*db.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	p, err := store.CreateProject(ctx, "rotation", "")
	if err != nil {
		t.Fatal(err)
	}
	envID := p.Environments[0].ID
	app := &db.App{EnvironmentID: envID, Name: "web", AppName: "web", SourceType: db.SourceGit,
		GitURL: "https://git.example.com/web.git", GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 8080, Replicas: 1}
	if err := store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	if err := store.SetAppSecrets(ctx, app.ID, db.SecretUpdate{GitToken: str("app-git-token"), GitSSHKey: str("app-ssh-key"), RegistryPassword: str("app-registry-pw")}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetAppVariables(ctx, app.ID, db.VarEnv, []db.Variable{{Key: "DATABASE_URL", Value: "postgres://u:env-secret@db/x"}, {Key: "EMPTY", Value: ""}}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetAppVariables(ctx, app.ID, db.VarBuildArg, []db.Variable{{Key: "NPM_TOKEN", Value: "build-arg-secret"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AppWebhook(ctx, app.ID); err != nil { // token and secret
		t.Fatal(err)
	}
	if err := store.SetWebhookSecret(ctx, app.ID, "webhook-secret"); err != nil {
		t.Fatal(err)
	}
	stack := &db.ComposeStack{EnvironmentID: envID, Name: "stack", DisplayName: "stack", SourceType: db.ComposeGit,
		GitURL: "https://git.example.com/stack.git", GitBranch: "main", ComposePath: "compose.yml"}
	if err := store.CreateCompose(ctx, stack); err != nil {
		t.Fatal(err)
	}
	if err := store.SetComposeSecrets(ctx, stack.ID, str("compose-token"), str("compose-ssh-key"), str("ssh-ed25519 AAAA")); err != nil {
		t.Fatal(err)
	}
	dbase := &db.Database{EnvironmentID: envID, Name: "maria", Engine: db.EngineMariaDB, Image: "mariadb:11",
		DatabaseName: "shop", Username: "shop", RedisPersistence: db.RedisAOF}
	if err := store.CreateDatabase(ctx, dbase, db.DatabaseSecrets{Password: "db-password", RootPassword: "db-root-password", RegistryPassword: "db-registry-pw"}); err != nil {
		t.Fatal(err)
	}
	op, err := store.CreateOperation(ctx, dbase.ID, db.ActionPassword, "test", "operation-secret")
	if err != nil {
		t.Fatal(err)
	}
	cert := &db.Certificate{Name: "wildcard", CertPEM: "-----BEGIN CERTIFICATE-----", Hosts: pq.StringArray{"*.example.com"}, NotAfter: time.Now().Add(24 * time.Hour)}
	if err := store.CreateCertificate(ctx, cert, "certificate-private-key"); err != nil {
		t.Fatal(err)
	}
	dest := &db.Destination{Name: "offsite", Endpoint: "http://127.0.0.1:9000", Bucket: "b", AccessKey: "ak", PathStyle: true}
	if err := store.CreateDestination(ctx, dest, "destination-secret-key"); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveControlPlaneBackupSettings(ctx, &db.ControlPlaneBackupSettings{DestinationID: &dest.ID, Timezone: "UTC", KeepLast: 3},
		str("control-plane-passphrase")); err != nil {
		t.Fatal(err)
	}
	channel := &db.NotificationChannel{Name: "ops", Kind: "slack", Events: []string{"deploy.failed"}, Enabled: true}
	if err := store.CreateNotificationChannel(ctx, channel, `{"url":"https://hooks.slack.com/services/T/B/notification-token"}`); err != nil {
		t.Fatal(err)
	}
	user, err := store.CreateUser(ctx, "rotation@example.com", "x", db.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.BeginTOTP(ctx, user.ID, "JBSWY3DPEHPK3PXP"); err != nil {
		t.Fatal(err)
	}
	return func(s *db.Store) map[string]string {
		t.Helper()
		out := map[string]string{}
		must := func(name, v string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = v
		}
		a, err := s.App(ctx, app.ID)
		must("app", "", err)
		as, err := s.AppSecrets(a)
		must("app git token", as.GitToken, err)
		out["app ssh key"], out["app registry password"] = as.GitSSHKey, as.RegistryPassword
		for _, kind := range []string{db.VarEnv, db.VarBuildArg} {
			vars, err := s.AppVariables(ctx, app.ID, kind)
			must(kind, "", err)
			for _, v := range vars {
				out[kind+" "+v.Key] = v.Value
			}
		}
		w, err := s.AppWebhook(ctx, app.ID)
		must("webhook secret", w.Secret, err)
		out["webhook token set"] = fmt.Sprint(len(w.Token) > 10)
		c, err := s.Compose(ctx, stack.ID)
		must("compose", "", err)
		cs, err := s.ComposeSecrets(c)
		must("compose token", cs.GitToken, err)
		out["compose ssh key"] = cs.GitSSHKey
		d, err := s.Database(ctx, dbase.ID)
		must("database", "", err)
		ds, err := s.DatabaseSecrets(d)
		must("database password", ds.Password, err)
		out["database root password"], out["database registry password"] = ds.RootPassword, ds.RegistryPassword
		dep, err := s.Deployment(ctx, op.ID)
		must("deployment", "", err)
		v, err := s.DeploymentSecret(dep)
		must("operation secret", v, err)
		crt, err := s.Certificate(ctx, cert.ID)
		must("certificate", "", err)
		v, err = s.CertificateKey(crt)
		must("certificate key", v, err)
		ds2, err := s.Destination(ctx, dest.ID)
		must("destination", "", err)
		v, err = s.DestinationSecret(ds2)
		must("destination secret key", v, err)
		cp, err := s.ControlPlaneBackupSettings(ctx)
		must("control-plane settings", "", err)
		v, err = s.ControlPlaneBackupPassphrase(cp)
		must("control-plane passphrase", v, err)
		ch, err := s.NotificationChannel(ctx, channel.ID)
		must("notification channel", "", err)
		v, err = s.NotificationConfig(ch)
		must("notification channel config", v, err)
		u, err := s.UserByID(ctx, user.ID)
		must("user", "", err)
		v, err = s.TOTPSecret(u)
		must("two-factor secret", v, err)
		return out
	}
}

// rawSealed returns every non-empty value of every encrypted column, by
// "table.column", failing when a column holds none: the seed must cover it.
func rawSealed(t *testing.T, store *db.Store) map[string][][]byte {
	t.Helper()
	tables, err := store.EncryptedTables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][]byte{}
	for _, tb := range tables {
		for _, c := range tb.Columns {
			var vals [][]byte
			q := fmt.Sprintf(`SELECT %s FROM %s WHERE length(%[1]s) > 0`, pq.QuoteIdentifier(c), pq.QuoteIdentifier(tb.Name))
			if err := store.DB().Select(&vals, q); err != nil {
				t.Fatal(err)
			}
			if len(vals) == 0 {
				t.Errorf("%s.%s holds no value: seedSecrets must store one, so rotation is tested on it", tb.Name, c)
			}
			out[tb.Name+"."+c] = vals
		}
	}
	return out
}

// Every column named *_enc is bytea, so EncryptedTables (and rotation)
// finds it.
func TestEncryptedTables_EveryEncColumnIsFound(t *testing.T) {
	store := dbtest.NewServicesStore(t)
	var misnamed []string
	if err := store.DB().Select(&misnamed, `SELECT table_name || '.' || column_name || ' (' || data_type || ')' FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name LIKE '%\_enc' AND data_type <> 'bytea'`); err != nil {
		t.Fatal(err)
	}
	if len(misnamed) > 0 {
		t.Errorf("*_enc columns that are not bytea are not re-encrypted by a rotation: %v", misnamed)
	}
	tables, err := store.EncryptedTables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, tb := range tables {
		for _, c := range tb.Columns {
			cols = append(cols, tb.Name+"."+c)
		}
	}
	// The columns of today; a new one is found by the query, and
	// TestReencrypt_EveryEncryptedColumn fails until it is seeded.
	for _, want := range []string{"applications.git_token_enc", "service_variables.value_enc", "destinations.secret_key_enc",
		"databases.root_password_enc", "compose_stacks.git_ssh_key_enc", "control_plane_backup_settings.passphrase_enc"} {
		if !strings.Contains(strings.Join(cols, " "), want) {
			t.Errorf("%s not found among %v", want, cols)
		}
	}
}

// A rotation re-encrypts every value of every encrypted column: the bytes
// change, each carries the new key's id, and every secret reads the same
// through the store, including through a server's store made before.
func TestReencrypt_EveryEncryptedColumn(t *testing.T) {
	base := dbtest.NewServicesStore(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secret.key")
	writeKeys(t, path, oldKey)
	store := keyFileStore(t, base, path)
	read := seedSecrets(t, store)
	// One value from before key ids, as an upgraded database holds.
	dbtest.MustExec(t, store, `UPDATE destinations SET secret_key_enc = $1`, legacySeal(t, oldKey, "destination-secret-key"))
	if err := store.CheckSecretKey(ctx); err != nil {
		t.Fatal(err)
	}
	want := read(store)
	before := rawSealed(t, store)
	server := keyFileStore(t, base, path) // a running server, started before the rotation

	writeKeys(t, path, newKey, oldKey)
	rotator := keyFileStore(t, base, path)
	var batches []db.ReencryptCount
	counts, err := rotator.Reencrypt(ctx, 2, func(c db.ReencryptCount) { batches = append(batches, c) })
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range counts {
		total += c.Values
	}
	after := rawSealed(t, rotator)
	valuesBefore := 0
	for col, vals := range after {
		valuesBefore += len(before[col])
		if len(vals) != len(before[col]) {
			t.Errorf("%s: %d values before, %d after", col, len(before[col]), len(vals))
		}
		for _, v := range vals {
			if got := db.SealedKeyID(v); got != db.KeyID([]byte(newKey)) {
				t.Errorf("%s: a value under key id %q after the rotation, want %s", col, got, db.KeyID([]byte(newKey)))
			}
			for _, old := range before[col] {
				if string(old) == string(v) {
					t.Errorf("%s: a value's bytes did not change", col)
				}
			}
		}
	}
	if total != valuesBefore || len(batches) < 2 {
		t.Errorf("re-encrypted %d values in %d batches, the database held %d", total, len(batches), valuesBefore)
	}
	byKey, err := rotator.SealedValuesByKey(ctx)
	if err != nil || len(byKey) != 1 || byKey[db.KeyID([]byte(newKey))] != valuesBefore+1 { // +1: the key check
		t.Errorf("values by key id after the rotation: %v %v (want all %d under %s)", byKey, err, valuesBefore+1, db.KeyID([]byte(newKey)))
	}
	for name, s := range map[string]*db.Store{"rotator": rotator, "server started before": server} {
		got := read(s)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s reads %s = %q, want %q", name, k, got[k], v)
			}
		}
	}
	// The server writes too: once it has seen the file change, under the new key.
	time.Sleep(db.KeyRecheck + 100*time.Millisecond)
	if err := server.SetWebhookSecret(ctx, wantAppID(t, server), "written-after"); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := server.DB().Get(&raw, `SELECT secret_enc FROM service_webhooks`); err != nil || db.SealedKeyID(raw) != db.KeyID([]byte(newKey)) {
		t.Fatalf("server wrote under key id %q (%v)", db.SealedKeyID(raw), err)
	}
	if got := read(rotator)["webhook secret"]; got != "written-after" {
		t.Fatalf("webhook secret written by the server reads %q", got)
	}
	// Running it again changes nothing.
	again, err := rotator.Reencrypt(ctx, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if c.Values != 0 || c.Rows != 0 {
			t.Errorf("second run rewrote %+v", c)
		}
	}
	// The old key can go: the new one alone opens everything.
	writeKeys(t, path, newKey)
	alone := keyFileStore(t, base, path)
	if err := alone.CheckSecretKey(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(alone)["destination secret key"]; got != "destination-secret-key" {
		t.Fatalf("the legacy value after rotation reads %q", got)
	}
}

func wantAppID(t *testing.T, s *db.Store) int64 {
	t.Helper()
	a, err := s.AppByName(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// A rotation stopped after a batch leaves values under both keys,
// all readable; running it again finishes, and a third run finds nothing.
func TestReencrypt_ResumesAfterAnInterruption(t *testing.T) {
	base := dbtest.NewServicesStore(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secret.key")
	writeKeys(t, path, oldKey)
	store := keyFileStore(t, base, path)
	read := seedSecrets(t, store)
	app, err := store.AppByName(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	vars := make([]db.Variable, 250)
	for i := range vars {
		vars[i] = db.Variable{Key: fmt.Sprintf("V%03d", i), Value: fmt.Sprintf("value-%03d", i)}
	}
	if err := store.SetAppVariables(ctx, app.ID, db.VarEnv, vars); err != nil {
		t.Fatal(err)
	}
	want := read(store)

	writeKeys(t, path, newKey, oldKey)
	rotator := keyFileStore(t, base, path)
	stopped, cancel := context.WithCancel(ctx)
	_, err = rotator.Reencrypt(stopped, 100, func(c db.ReencryptCount) {
		if c.Table == "service_variables" {
			cancel() // as if the process died after this batch committed
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	mid, err := rotator.SealedValuesByKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mid[db.KeyID([]byte(newKey))] == 0 || mid[db.KeyID([]byte(oldKey))] == 0 {
		t.Fatalf("after one batch both keys should hold values: %v", mid)
	}
	if got := read(rotator); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("a half-done rotation changed what the store reads")
	}
	counts, err := rotator.Reencrypt(ctx, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, c := range counts {
		rows[c.Table] = c.Rows
	}
	done, _ := rotator.SealedValuesByKey(ctx)
	if len(done) != 1 || done[db.KeyID([]byte(newKey))] == 0 {
		t.Fatalf("after the second run: %v", done)
	}
	// The first batch's 100 rows were skipped the second time.
	if rows["service_variables"] != 250+1-100 { // 250 env vars + 1 build arg, 100 done before
		t.Errorf("second run rewrote %d service_variables rows, want %d", rows["service_variables"], 151)
	}
	if got := read(rotator); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("after the rotation the store reads other values")
	}
}

// The key check: written at the first check, it stops a wrong key with the
// ids of both keys; before there is one, any sealed value does.
func TestCheckSecretKey_WrongKeyIsNamed(t *testing.T) {
	base := dbtest.NewServicesStore(t)
	ctx := context.Background()
	right, _ := db.NewCipher([]byte(oldKey))
	wrong, _ := db.NewCipher([]byte(newKey))
	if err := db.NewStore(base.DB(), right).CheckSecretKey(ctx); err != nil {
		t.Fatalf("an empty database: %v", err)
	}
	if v, _ := base.Setting(ctx, db.SettingKeyCheck, ""); v == "" {
		t.Fatal("no key check written")
	}
	if err := db.NewStore(base.DB(), right).CheckSecretKey(ctx); err != nil {
		t.Fatalf("the same key again: %v", err)
	}
	err := db.NewStore(base.DB(), wrong).CheckSecretKey(ctx)
	var mismatch *db.KeyMismatchError
	if !errors.As(err, &mismatch) || mismatch.SealedKeyID != right.KeyID() || mismatch.KeyIDs[0] != wrong.KeyID() {
		t.Fatalf("wrong key: %v", err)
	}
	if !strings.Contains(err.Error(), "key id "+wrong.KeyID()) || !strings.Contains(err.Error(), "database has values under key id "+right.KeyID()) {
		t.Errorf("message: %v", err)
	}
	// A ring holding the right key as a previous one passes.
	ring, _ := db.NewKeyRing([][]byte{[]byte(newKey), []byte(oldKey)})
	if err := db.NewStore(base.DB(), ring).CheckSecretKey(ctx); err != nil {
		t.Fatalf("ring with the old key: %v", err)
	}

	// A database from before the key check, with legacy values only.
	if err := base.DeleteSetting(ctx, db.SettingKeyCheck); err != nil {
		t.Fatal(err)
	}
	dest := &db.Destination{Name: "offsite", Endpoint: "http://127.0.0.1:9000", Bucket: "b", AccessKey: "ak", PathStyle: true}
	if err := db.NewStore(base.DB(), right).CreateDestination(ctx, dest, "x"); err != nil {
		t.Fatal(err)
	}
	dbtest.MustExec(t, base, `UPDATE destinations SET secret_key_enc = $1`, legacySeal(t, oldKey, "legacy-secret"))
	err = db.NewStore(base.DB(), wrong).CheckSecretKey(ctx)
	if !errors.As(err, &mismatch) || mismatch.What != "destinations.secret_key_enc" || mismatch.SealedKeyID != "" ||
		!strings.Contains(err.Error(), "before key ids") {
		t.Fatalf("wrong key, no key check: %v", err)
	}
	if v, _ := base.Setting(ctx, db.SettingKeyCheck, ""); v != "" {
		t.Fatal("a wrong key wrote the key check")
	}
	if err := db.NewStore(base.DB(), right).CheckSecretKey(ctx); err != nil {
		t.Fatalf("right key, legacy values: %v", err)
	}
	d, err := db.NewStore(base.DB(), right).Destination(ctx, dest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.NewStore(base.DB(), right).DestinationSecret(d); err != nil || v != "legacy-secret" {
		t.Fatalf("legacy value: %q %v", v, err)
	}
	if v, _ := base.Setting(ctx, db.SettingKeyCheck, ""); v == "" {
		t.Fatal("the key check is written once the key is known to match")
	}
}
