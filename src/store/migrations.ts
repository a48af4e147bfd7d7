// Versioned schema migrations, shared by SQLite and PostgreSQL (the DDL below is valid in both).
// Each runs once, in order, inside the same transaction as its row in msgcls_schema_migrations;
// start-up applies those not yet applied, so running them again is a no-op. Never edit a migration
// that has shipped: add a new one.

export type Migration = { version: number; name: string; statements: string[] };

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'prediction log and feedback labels',
    statements: [
      `CREATE TABLE msgcls_predictions (
        request_id TEXT NOT NULL,
        item INTEGER NOT NULL,
        ts BIGINT NOT NULL,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        label TEXT NOT NULL,
        proba DOUBLE PRECISION,
        score DOUBLE PRECISION,
        text_length INTEGER,
        token_count INTEGER,
        digit_share DOUBLE PRECISION,
        upper_share DOUBLE PRECISION,
        url_count INTEGER,
        unknown_token_share DOUBLE PRECISION,
        text TEXT,
        PRIMARY KEY (request_id, item)
      )`,
      'CREATE INDEX msgcls_predictions_ts ON msgcls_predictions (ts)',
      `CREATE TABLE msgcls_feedback (
        request_id TEXT NOT NULL,
        item INTEGER NOT NULL,
        label TEXT NOT NULL,
        received_ts BIGINT NOT NULL,
        updated_ts BIGINT NOT NULL,
        PRIMARY KEY (request_id, item)
      )`,
      'CREATE INDEX msgcls_feedback_received ON msgcls_feedback (received_ts)',
    ],
  },
  {
    version: 2,
    name: 'index for the payload retention sweep',
    statements: ['CREATE INDEX msgcls_predictions_text_ts ON msgcls_predictions (ts) WHERE text IS NOT NULL'],
  },
  {
    version: 3,
    name: 'server-generated prediction ids; feedback rows carry what the quality windows read',
    statements: [
      // Rows written before keep the id they had (ours, or a client's X-Request-Id that retention expires).
      'ALTER TABLE msgcls_predictions RENAME COLUMN request_id TO prediction_id',
      'ALTER TABLE msgcls_feedback RENAME COLUMN request_id TO prediction_id',
      // The quality windows then read the feedback table alone, through an index: the count window
      // no longer sorts every labelled prediction joined with the prediction table.
      'ALTER TABLE msgcls_feedback ADD COLUMN predicted_ts BIGINT',
      'ALTER TABLE msgcls_feedback ADD COLUMN model_name TEXT',
      'ALTER TABLE msgcls_feedback ADD COLUMN model_version TEXT',
      'ALTER TABLE msgcls_feedback ADD COLUMN predicted TEXT',
      `UPDATE msgcls_feedback SET predicted_ts = p.ts, model_name = p.model_name, model_version = p.model_version,
         predicted = p.label
       FROM msgcls_predictions p WHERE p.prediction_id = msgcls_feedback.prediction_id AND p.item = msgcls_feedback.item`,
      // Covering: a window reads index entries only, never the table rows (10k rows of the time
      // window measured 21–29 ms with table lookups, a few ms without).
      `CREATE INDEX msgcls_feedback_model_ts
         ON msgcls_feedback (model_name, model_version, predicted_ts, prediction_id, item, predicted, label, received_ts)`,
      `CREATE INDEX msgcls_feedback_predicted_ts
         ON msgcls_feedback (predicted_ts, received_ts, model_name, model_version, predicted, label)`,
    ],
  },
  {
    version: 4,
    // The part a version played in a rollout (champion, challenger); NULL for rows written before.
    name: 'rollout role of each prediction',
    statements: ['ALTER TABLE msgcls_predictions ADD COLUMN model_role TEXT'],
  },
];

export const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS msgcls_schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
