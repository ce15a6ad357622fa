// Command atlas-engine runs Atlas's own engine (ariga.io/atlas sql/migrate and sql/postgres) on
// our migration directory, so the integration tests check migrations with Atlas rather than with
// our reading of it. The Atlas CLI module is not served by the Go module proxy; its engine is.
//
//	atlas-engine validate <dir>        migrate.Validate; exit 1 with Atlas's error
//	atlas-engine hash <dir>            the atlas.sum Atlas computes for <dir>
//	atlas-engine split <file>          the statements Atlas's Postgres scanner splits <file> into (JSON)
//	atlas-engine apply <dir> <url>     pending files applied with migrate.Executor (JSON result)
//	atlas-engine lock <url> <name>     take Atlas's advisory lock, hold it until stdin closes
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlclient"

	// Atlas's Postgres opener calls sql.Open("postgres", …): lib/pq is the pure-Go driver
	// registered under that name.
	_ "github.com/lib/pq"
)

// The lock name and timeout `atlas migrate apply` uses by default.
const (
	lockName    = "atlas_migrate_execute"
	lockTimeout = 10 * time.Second
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "atlas-engine:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	ctx := context.Background()
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "validate" && len(rest) == 1:
		return validate(rest[0])
	case cmd == "hash" && len(rest) == 1:
		return hash(rest[0])
	case cmd == "split" && len(rest) == 1:
		return split(rest[0])
	case cmd == "apply" && len(rest) == 2:
		return apply(ctx, rest[0], rest[1])
	case cmd == "lock" && len(rest) == 2:
		return lock(ctx, rest[0], rest[1])
	}
	return errUsage
}

var errUsage = errors.New("usage: atlas-engine validate <dir> | hash <dir> | split <file> | apply <dir> <url> | lock <url> <name>")

func validate(path string) error {
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	if err := validateDir(dir); err != nil {
		return err
	}
	fmt.Println("valid")
	return nil
}

// validateDir is migrate.Validate with the file named: a ChecksumError's message is only
// "checksum mismatch", its fields say where and why.
func validateDir(dir migrate.Dir) error {
	err := migrate.Validate(dir)
	var cerr *migrate.ChecksumError
	if errors.As(err, &cerr) {
		return fmt.Errorf("%w: %s was %s (atlas.sum line %d)", err, cerr.File, cerr.Reason, cerr.Line)
	}
	return err
}

func hash(path string) error {
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	files, err := dir.Files()
	if err != nil {
		return err
	}
	sum, err := migrate.NewHashFile(files)
	if err != nil {
		return err
	}
	text, err := sum.MarshalText()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(text)
	return err
}

func split(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// The scanner the Executor uses for a Postgres LocalFile (migrate.FileStmtDecls →
	// Driver.ScanStmts); it keeps no state, so a zero Driver needs no database.
	stmts, err := migrate.FileStmtDecls(&postgres.Driver{}, migrate.NewLocalFile(filepath.Base(path), b))
	if err != nil {
		return err
	}
	texts := make([]string, len(stmts))
	for i, s := range stmts {
		texts[i] = s.Text
	}
	return json.NewEncoder(os.Stdout).Encode(texts)
}

// apply does what `atlas migrate apply` does by default: take the advisory lock, create the
// revisions table, ask the Executor for the pending files (it validates atlas.sum, refuses a
// dirty database and non-linear history) and execute each file in its own transaction, the
// revision written inside that transaction.
func apply(ctx context.Context, path, url string) error {
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	// Refuse a tampered directory before connecting: nothing may touch the database then.
	if err := validateDir(dir); err != nil {
		return fmt.Errorf("validate migration directory: %w", err)
	}
	client, err := sqlclient.Open(ctx, url)
	if err != nil {
		return err
	}
	defer client.Close()
	unlock, err := client.Driver.(schema.Locker).Lock(ctx, lockName, lockTimeout)
	if err != nil {
		return fmt.Errorf("acquiring %s: %w", lockName, err)
	}
	defer unlock()
	if err := createRevisionsTable(ctx, client.DB); err != nil {
		return err
	}
	ex, err := migrate.NewExecutor(client.Driver, dir, &revisions{client.DB}, migrate.WithOperatorVersion(operator))
	if err != nil {
		return err
	}
	pending, err := ex.Pending(ctx)
	if err != nil && !errors.Is(err, migrate.ErrNoPendingFiles) {
		return err
	}
	applied := []string{}
	for _, f := range pending {
		if err := applyFile(ctx, client, dir, f); err != nil {
			return err
		}
		applied = append(applied, f.Version())
	}
	return json.NewEncoder(os.Stdout).Encode(map[string][]string{"applied": applied})
}

func applyFile(ctx context.Context, client *sqlclient.Client, dir migrate.Dir, f migrate.File) error {
	tx, err := client.Tx(ctx, nil)
	if err != nil {
		return err
	}
	ex, err := migrate.NewExecutor(tx.Driver, dir, &revisions{tx.Tx}, migrate.WithOperatorVersion(operator))
	if err == nil {
		err = ex.Execute(ctx, f)
	}
	if err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// lock takes the session advisory lock exactly as Atlas's Postgres driver does (on one
// connection of the pool), prints "acquired" or "refused", and holds it until stdin closes.
func lock(ctx context.Context, url, name string) error {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	drv, err := postgres.Open(db)
	if err != nil {
		return err
	}
	// Timeout 0: a single pg_try_advisory_lock, no retry.
	unlock, err := drv.(schema.Locker).Lock(ctx, name, 0)
	if errors.Is(err, schema.ErrLocked) {
		fmt.Println("refused")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Println("acquired")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return unlock()
}
