package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"dokploy/db"
)

const rotateHelp = `Rotates the secret key without downtime. A new random key is written as the
first line of the key file (<data dir>/secret.key or DOKPLOY_SECRET_KEY_FILE);
the old key stays on the next line, so values not yet re-encrypted still open.
Running servers that read the same file start sealing with the new key within
a second; after --wait, every stored secret (each *_enc column of every table)
is re-encrypted under it, in batches of --batch rows, one transaction each.
At the end only the new key and the one it replaced are kept in the file.
An interrupted rotation is finished by running the command again.

With DOKPLOY_SECRET_KEY set (not a file), or with --new-key-file, the new key
ring is written to --new-key-file and nothing is re-encrypted yet: restart
every dokploy process with DOKPLOY_SECRET_KEY_FILE pointing at that file (and
without DOKPLOY_SECRET_KEY), then run dokploy secret-key rotate again.
`

// rotateOptions are the flags of `dokploy secret-key rotate`.
type rotateOptions struct {
	newKeyFile string
	batch      int
	wait       time.Duration
	// afterBatch, when set, is called after each committed batch (tests
	// stop a rotation midway with it).
	afterBatch func()
}

func secretKeyCmd(cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "id" && args[0] != "rotate") {
		return errors.New("usage: dokploy secret-key id|rotate (see dokploy secret-key rotate --help)")
	}
	if args[0] == "id" {
		return withFlags(stdout, args[1:], "secret-key id", func(*flag.FlagSet) {}, func() error {
			keys := [][]byte{[]byte(cfg.SecretKey)}
			if cfg.SecretKey == "" {
				var err error
				if keys, err = db.ReadKeyFile(cfg.keyFile()); err != nil {
					return err
				}
			}
			fmt.Fprintln(stdout, db.KeyID(keys[0]))
			return nil
		})
	}
	o := rotateOptions{batch: 100, wait: 5 * time.Second}
	return withFlagsHelp(stdout, args[1:], "secret-key rotate", rotateHelp, func(fs *flag.FlagSet) {
		fs.StringVar(&o.newKeyFile, "new-key-file", "", "write the new key ring to this file instead of the key file in use (then restart with DOKPLOY_SECRET_KEY_FILE set to it and run rotate again)")
		fs.IntVar(&o.batch, "batch", o.batch, "rows re-encrypted per transaction")
		fs.DurationVar(&o.wait, "wait", o.wait, "time running servers get to notice the new key before values are re-encrypted")
	}, func() error {
		if err := cfg.validate(); err != nil {
			return fmt.Errorf("invalid configuration:\n%w", err)
		}
		if cfg.keyFile() == "" && o.newKeyFile == "" {
			return errors.New("DOKPLOY_SECRET_KEY is set in the environment, so a new key cannot be put where running servers find it. " +
				"Either move the key to a file (write it to " + filepath.Join(cfg.DataDir, "secret.key") + " with mode 0600, or to a file named by DOKPLOY_SECRET_KEY_FILE; " +
				"unset DOKPLOY_SECRET_KEY, restart, and run dokploy secret-key rotate again), or pass --new-key-file FILE: the new key ring is written there, " +
				"then restart with DOKPLOY_SECRET_KEY_FILE=FILE and run rotate again to re-encrypt")
		}
		if o.batch < 1 {
			return errors.New("--batch must be at least 1")
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return rotateSecretKey(ctx, cfg, o, stdout)
	})
}

// rotateSecretKey installs a new key (or finds the one an interrupted
// rotation installed), re-encrypts every stored secret under it and drops
// the keys nothing is sealed with any more.
func rotateSecretKey(ctx context.Context, cfg config, o rotateOptions, out io.Writer) error {
	store, conn, err := openStore(ctx, cfg) // a key that cannot open the database stops here
	if err != nil {
		return err
	}
	defer conn.Close()
	unlock, err := store.KeyRotationLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	ring, err := cfg.secretKeys()
	if err != nil {
		return err
	}
	target := cfg.keyFile()
	if o.newKeyFile != "" {
		if target, err = filepath.Abs(o.newKeyFile); err != nil {
			return err
		}
	}
	current := db.KeyID(ring[0])
	pending, err := store.Setting(ctx, db.SettingKeyRotation, "")
	if err != nil {
		return err
	}
	if pending != "" && pending != current && !hasKeyID(ring, pending) {
		counts, err := store.SealedValuesByKey(ctx)
		if err != nil {
			return err
		}
		if counts[pending] > 0 {
			return fmt.Errorf("an interrupted rotation left %d values under key id %s, which %s does not hold: run again with the key ring that does "+
				"(DOKPLOY_SECRET_KEY_FILE set to the file the rotation wrote, e.g. its --new-key-file). Nothing was changed", counts[pending], pending, cfg.keySource())
		}
		pending = "" // nothing was sealed with that key: start afresh
	}
	if pending == current {
		// The key in use is the one the rotation installed.
		fmt.Fprintf(out, "Finishing the interrupted rotation to key id %s.\n", current)
		target = cfg.keyFile()
	} else {
		newKey := []byte(newSecretKey())
		next := append([][]byte{newKey}, ring...)
		if err := db.WriteKeyFile(target, next); err != nil {
			return err
		}
		current = db.KeyID(newKey)
		fmt.Fprintf(out, "New secret key %s written to %s (mode 0600); the previous key %s is kept on its second line.\n", current, target, db.KeyID(ring[0]))
		if err := store.SetSetting(ctx, db.SettingKeyRotation, current); err != nil {
			return err
		}
		if target != cfg.keyFile() {
			fmt.Fprintf(out, "Next: restart every dokploy process with DOKPLOY_SECRET_KEY_FILE=%s (and without DOKPLOY_SECRET_KEY), "+
				"then run dokploy secret-key rotate again with that setting to re-encrypt the stored secrets.\n", target)
			return nil
		}
		if o.wait > 0 {
			fmt.Fprintf(out, "Waiting %s for running servers to start sealing with it...\n", o.wait)
			select {
			case <-time.After(o.wait):
			case <-ctx.Done():
				return fmt.Errorf("stopped before re-encrypting (run it again to finish): %w", ctx.Err())
			}
		}
	}
	if target != "" {
		cipher, err := db.OpenKeyFile(target)
		if err != nil {
			return err
		}
		if cipher.KeyID() != current {
			return fmt.Errorf("%s changed during the rotation (its current key is now %s, not %s): is another rotation running elsewhere?", target, cipher.KeyID(), current)
		}
		store = db.NewStore(conn, cipher)
	}
	counts, err := reencryptAll(ctx, store, o, out)
	if err != nil {
		return err
	}
	// Drop the keys nothing is sealed with: all but the new one and the
	// one it replaced, kept for a server that sealed with it late.
	var keys [][]byte
	if target != "" {
		if keys, err = db.ReadKeyFile(target); err != nil {
			return err
		}
	}
	if len(keys) > 2 {
		if err := db.WriteKeyFile(target, keys[:2]); err != nil {
			return err
		}
		fmt.Fprintf(out, "Dropped %d older key(s) from %s.\n", len(keys)-2, target)
	}
	if err := store.DeleteSetting(ctx, db.SettingKeyRotation); err != nil {
		return err
	}
	total := 0
	for _, c := range counts {
		total += c.Values
	}
	auditCLI(ctx, store, "secret_key.rotate", nil, fmt.Sprintf("secret-key rotate to key id %s, %d values re-encrypted", current, total))
	fmt.Fprintf(out, "Done: %d values re-encrypted; every stored secret is now under key id %s.\n", total, current)
	return nil
}

// reencryptAll re-encrypts until no value is left under another key: a
// server that had not yet seen the new key may have sealed a few with the
// old one during the first pass.
func reencryptAll(ctx context.Context, store *db.Store, o rotateOptions, out io.Writer) ([]db.ReencryptCount, error) {
	current := store.Cipher().KeyID()
	byTable := map[string]*db.ReencryptCount{}
	var order []string
	for pass := 1; ; pass++ {
		counts, err := store.Reencrypt(ctx, o.batch, func(db.ReencryptCount) {
			if o.afterBatch != nil {
				o.afterBatch()
			}
		})
		for _, c := range counts {
			if byTable[c.Table] == nil {
				byTable[c.Table] = &db.ReencryptCount{Table: c.Table}
				order = append(order, c.Table)
			}
			byTable[c.Table].Rows += c.Rows
			byTable[c.Table].Values += c.Values
		}
		if err != nil {
			return nil, fmt.Errorf("%w (run dokploy secret-key rotate again to finish)", err)
		}
		left, err := store.SealedValuesByKey(ctx)
		if err != nil {
			return nil, err
		}
		stale := 0
		for id, n := range left {
			if id != current {
				stale += n
			}
		}
		if stale == 0 {
			break
		}
		if pass == 3 {
			return nil, fmt.Errorf("%d values are still sealed under other keys after 3 passes: is a server using another key file? Run dokploy secret-key rotate again", stale)
		}
	}
	sort.Strings(order)
	var res []db.ReencryptCount
	for _, t := range order {
		c := *byTable[t]
		fmt.Fprintf(out, "  %-32s %6d rows, %6d values\n", c.Table, c.Rows, c.Values)
		res = append(res, c)
	}
	return res, nil
}

func hasKeyID(keys [][]byte, id string) bool {
	for _, k := range keys {
		if db.KeyID(k) == id {
			return true
		}
	}
	return false
}
