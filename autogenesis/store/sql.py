"""Every SQL statement autogenesis runs, as named constants.

Only the store package executes them; the CLI, the bus and the agents call
store methods.
"""

from __future__ import annotations

# Column order of each log table, as written by COPY and read back from the spool.
JSON_COLUMNS = frozenset({"config", "body", "settings", "prompt", "json_schema", "parsed",
                          "reasons", "checks", "detail", "request", "result"})
"""The jsonb columns: read back as parsed JSON."""

COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": (
        "id", "kind", "name", "spec_path", "spec_sha256", "status", "model", "config",
        "package_path", "error", "started_at", "finished_at",
    ),
    "messages": (
        "id", "run_id", "conversation_id", "sender", "recipient", "topic", "kind", "body",
        "reply_to", "hop", "expects_reply", "created_at", "deadline",
    ),
    "completions": (
        "id", "run_id", "message_id", "agent", "call_index", "backend", "model_id",
        "model_revision", "settings", "seed", "prompt", "json_schema", "output", "parsed",
        "tokens_in", "tokens_out", "latency_ms", "batch_size", "created_at", "backend_version",
        "dtype", "device", "finish_reason", "prompt_sha256",
    ),
    "artefacts": (
        "id", "run_id", "stage", "kind", "version", "body", "sha256", "message_id", "created_at",
    ),
    "verdicts": (
        "id", "run_id", "artefact_id", "stage", "approved", "reasons", "checks", "message_id",
        "created_at",
    ),
    "events": ("id", "run_id", "kind", "agent", "message_id", "detail", "created_at"),
    "files": (
        "id", "run_id", "path", "sha256", "size", "artefact_id", "message_id", "created_at",
    ),
    "observations": (
        "id", "run_id", "agent", "call_index", "kind", "request", "result", "message_id",
        "created_at",
    ),
}

# Tables in the order a batch writes them: runs first, because the others refer to them.
WRITE_ORDER: tuple[str, ...] = (
    "runs", "messages", "completions", "artefacts", "verdicts", "events", "files",
    "observations",
)

TABLES_WITH_RUN: tuple[str, ...] = WRITE_ORDER[1:]


def copy_sql(table: str) -> str:
    return f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN"


# A run row is written whole each time it changes (started, finished), so
# replaying an older copy from the spool must not undo a newer one.
UPSERT_RUN_SQL = f"""
INSERT INTO runs ({", ".join(COLUMNS["runs"])})
VALUES ({", ".join(["%s"] * len(COLUMNS["runs"]))})
ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status,
    model = EXCLUDED.model,
    config = EXCLUDED.config,
    package_path = EXCLUDED.package_path,
    error = EXCLUDED.error,
    finished_at = EXCLUDED.finished_at,
    updated_at = now()
WHERE runs.finished_at IS NULL OR EXCLUDED.finished_at IS NOT NULL
"""

# Idempotent path for rows that may already be in the table (from the spool,
# or a batch whose commit outcome was unknown): COPY into a temporary table,
# then insert what is missing.
def create_stage_sql(table: str) -> str:
    # INCLUDING DEFAULTS gives the stage a `seq`, so rows keep their spool order.
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} "
        f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )


def stage_copy_sql(table: str) -> str:
    return f"COPY stage_{table} ({', '.join(COLUMNS[table])}) FROM STDIN"


def stage_insert_sql(table: str) -> str:
    cols = ", ".join(COLUMNS[table])
    return (
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage_{table} "
        "ORDER BY seq ON CONFLICT (id) DO NOTHING"
    )


# --- migrations -----------------------------------------------------------

MIGRATION_LOCK_KEY = 0x6175746F67656E  # "autogen": one advisory lock for all migrators

CREATE_MIGRATIONS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    sha256      text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
MIGRATION_LOCK_SQL = "SELECT pg_advisory_lock(%s)"
MIGRATION_UNLOCK_SQL = "SELECT pg_advisory_unlock(%s)"
SELECT_APPLIED_SQL = (
    "SELECT version, name, sha256, applied_at FROM schema_migrations ORDER BY version"
)
RECORD_MIGRATION_SQL = "INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)"
MIGRATIONS_TABLE_EXISTS_SQL = "SELECT to_regclass('schema_migrations') IS NOT NULL"

# --- reads ----------------------------------------------------------------

SELECT_RUNS_SQL = """
SELECT r.id, r.kind, r.name, r.spec_path, r.status, r.model, r.package_path, r.error,
       r.started_at, r.finished_at,
       (SELECT count(*) FROM messages m WHERE m.run_id = r.id) AS messages,
       (SELECT count(*) FROM verdicts v WHERE v.run_id = r.id AND v.approved) AS approved
FROM runs r
WHERE (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
  AND (%(spec)s::text IS NULL OR r.spec_path LIKE '%%' || %(spec)s || '%%')
ORDER BY r.started_at DESC
LIMIT %(limit)s
"""

SELECT_RUN_SQL = f"SELECT {', '.join(COLUMNS['runs'])} FROM runs WHERE id = %s"

SELECT_MESSAGES_SQL = f"""
SELECT {", ".join(COLUMNS["messages"])} FROM messages WHERE run_id = %s ORDER BY seq
"""

# Per agent in call order; created_at breaks ties for rows drained from a spool.
SELECT_COMPLETIONS_SQL = f"""
SELECT {", ".join(COLUMNS["completions"])} FROM completions WHERE run_id = %s
ORDER BY agent, call_index, created_at, seq
"""

SELECT_EVENTS_SQL = """
SELECT id, run_id, kind, agent, message_id, detail, created_at FROM events
WHERE run_id IS NOT DISTINCT FROM %(run_id)s AND (%(kind)s::text IS NULL OR kind = %(kind)s)
ORDER BY seq
"""


def count_sql(table: str) -> str:
    return f"SELECT count(*) FROM {table} WHERE run_id = %s"


def call_counts_sql(table: str) -> str:
    """Per agent, one past the highest call index logged in a run (completions,
    observations)."""
    return (f"SELECT agent, max(call_index) + 1 AS count FROM {table} WHERE run_id = %s "
            "GROUP BY agent")


SERVER_VERSION_SQL = "SHOW server_version"
CREATE_DATABASE_SQL = "CREATE DATABASE {name}"
DATABASE_EXISTS_SQL = "SELECT 1 FROM pg_database WHERE datname = %s"

SELECT_VERDICTS_SQL = """
SELECT id, run_id, artefact_id, stage, approved, reasons, checks, message_id, created_at
FROM verdicts WHERE run_id = %s ORDER BY seq
"""

SELECT_ARTEFACTS_SQL = f"""
SELECT {", ".join(COLUMNS["artefacts"])} FROM artefacts WHERE run_id = %s ORDER BY seq
"""

SELECT_FILES_SQL = f"""
SELECT {", ".join(COLUMNS["files"])} FROM files WHERE run_id = %s ORDER BY seq
"""

SELECT_OBSERVATIONS_SQL = f"""
SELECT {", ".join(COLUMNS["observations"])} FROM observations WHERE run_id = %s
ORDER BY agent, call_index
"""

# The runs a build started (its generated system's runs), in the order it started them.
SELECT_CHILD_RUNS_SQL = f"""
SELECT {", ".join(COLUMNS["runs"])} FROM runs WHERE config->>'parent_run' = %s
ORDER BY started_at, id
"""

# Builds that logged these (path, sha256) files, the most matches first.
SELECT_RUNS_WITH_FILES_SQL = """
SELECT f.run_id AS id, count(*) AS matched, max(r.started_at) AS started
FROM files f JOIN runs r ON r.id = f.run_id
WHERE r.kind = 'build'
  AND (f.path, f.sha256) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
GROUP BY f.run_id ORDER BY matched DESC, started DESC LIMIT 5
"""

# A live build holds this lock for its run (per session: a killed process drops it).
RUN_LOCK_SQL = "SELECT pg_try_advisory_lock(%s, hashtext(%s))"
RUN_LOCK_CLASS = 0x6167  # "ag": the first key of every run's advisory lock


def existing_ids_sql(table: str) -> str:
    return f"SELECT id FROM {table} WHERE id = ANY(%s)"

SELECT_RUNS_STARTING_SQL = "SELECT id FROM runs WHERE id::text LIKE %s ORDER BY started_at LIMIT 5"

# Runs to prune: finished top-level runs started before the cutoff (failed ones kept on
# request) and the runs they started. Runs still marked running are never pruned: they
# may be live, or waiting for `autogenesis resume`.
PRUNE_SELECT_SQL = """
WITH top AS (
    SELECT id FROM runs
    WHERE started_at < %(cutoff)s AND status <> 'running'
      AND config->>'parent_run' IS NULL
      AND NOT (%(keep_failed)s AND status = 'failed')
)
SELECT id FROM top
UNION
SELECT r.id FROM runs r JOIN top ON r.config->>'parent_run' = top.id::text
"""
PRUNE_COUNT_SQL = "SELECT count(*) FROM {table} WHERE run_id = ANY(%s)"
PRUNE_DELETE_SQL = "DELETE FROM runs WHERE id = ANY(%s)"
PRUNE_PROCESS_EVENTS_SQL = "DELETE FROM events WHERE run_id IS NULL AND created_at < %s"
