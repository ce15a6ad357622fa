package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// The CLI's revisions store (EntRevisions) lives in the CLI module, which the proxy does not
// serve. This one writes the same table: atlas.hcl puts it in "public" (revisions_schema), and
// the columns and types are those Ent generates for Atlas's revision schema, so a database
// migrated here can be taken over by `atlas migrate apply` and the other way round.
const (
	revisionsSchema = "public"
	revisionsTable  = "atlas_schema_revisions"
	// Atlas Cloud's identifier row shares the table; it is not a migration.
	cloudIdentifier = ".atlas_cloud_identifier"
	// Recorded as Revision.OperatorVersion, where the CLI writes "Atlas CLI <version>".
	operator = "atlas-engine (ariga.io/atlas/sql/migrate)"
)

func createRevisionsTable(ctx context.Context, db schema.ExecQuerier) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS "public"."atlas_schema_revisions" (
  "version" character varying NOT NULL,
  "description" character varying NOT NULL,
  "type" bigint NOT NULL DEFAULT 2,
  "applied" bigint NOT NULL DEFAULT 0,
  "total" bigint NOT NULL DEFAULT 0,
  "executed_at" timestamptz NOT NULL,
  "execution_time" bigint NOT NULL,
  "error" text NULL,
  "error_stmt" text NULL,
  "hash" character varying NOT NULL,
  "partial_hashes" jsonb NULL,
  "operator_version" character varying NOT NULL,
  PRIMARY KEY ("version")
)`)
	return err
}

// revisions implements migrate.RevisionReadWriter on a connection or a transaction.
type revisions struct{ db schema.ExecQuerier }

var _ migrate.RevisionReadWriter = (*revisions)(nil)

const revisionColumns = `version, description, type, applied, total, executed_at, execution_time,
  coalesce(error, ''), coalesce(error_stmt, ''), hash, partial_hashes, operator_version`

func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: revisionsTable, Schema: revisionsSchema}
}

func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+revisionColumns+`
  FROM "public"."atlas_schema_revisions" WHERE version <> $1 ORDER BY version`, cloudIdentifier)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var revs []*migrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		revs = append(revs, rev)
	}
	return revs, rows.Err()
}

func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+revisionColumns+`
  FROM "public"."atlas_schema_revisions" WHERE version = $1`, version)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, migrate.ErrRevisionNotExist
	}
	return scanRevision(rows)
}

func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	var partial []byte
	if rev.PartialHashes != nil {
		var err error
		if partial, err = json.Marshal(rev.PartialHashes); err != nil {
			return err
		}
	}
	// Upsert: the Executor writes a revision when a file starts, after each statement and at the
	// end. version, description and executed_at are immutable in Atlas's schema.
	_, err := r.db.ExecContext(ctx, `INSERT INTO "public"."atlas_schema_revisions"
  (version, description, type, applied, total, executed_at, execution_time, error, error_stmt,
   hash, partial_hashes, operator_version)
  VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), nullif($9, ''), $10, $11, $12)
  ON CONFLICT (version) DO UPDATE SET type = excluded.type, applied = excluded.applied,
   total = excluded.total, execution_time = excluded.execution_time, error = excluded.error,
   error_stmt = excluded.error_stmt, hash = excluded.hash, partial_hashes = excluded.partial_hashes,
   operator_version = excluded.operator_version`,
		rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt,
		int64(rev.ExecutionTime), rev.Error, rev.ErrorStmt, rev.Hash, nullJSON(partial), rev.OperatorVersion)
	return err
}

func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	if version == cloudIdentifier {
		return errors.New("deleting the revision-table identifier is not allowed")
	}
	_, err := r.db.ExecContext(ctx, `DELETE FROM "public"."atlas_schema_revisions" WHERE version = $1`, version)
	return err
}

func scanRevision(rows *sql.Rows) (*migrate.Revision, error) {
	var (
		rev      migrate.Revision
		typ      int64
		execTime int64
		partial  []byte
	)
	err := rows.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total, &rev.ExecutedAt,
		&execTime, &rev.Error, &rev.ErrorStmt, &rev.Hash, &partial, &rev.OperatorVersion)
	if err != nil {
		return nil, err
	}
	rev.Type = migrate.RevisionType(typ)
	rev.ExecutionTime = time.Duration(execTime)
	if partial != nil {
		if err := json.Unmarshal(partial, &rev.PartialHashes); err != nil {
			return nil, err
		}
	}
	return &rev, nil
}

// nullJSON keeps an absent list NULL, as Ent stores an unset optional JSON field.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
