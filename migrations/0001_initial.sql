-- The log of the whole product: runs and everything that happens in them.
-- Never edit this file once applied anywhere; add 0002_... instead.
--
-- Ids are UUIDs made by the writer, so a record keeps its identity when it
-- waits in the local spool and is written later (re-writes are no-ops).
-- Only run_id is a foreign key: rows of one run may reach the server from
-- several processes in any order, and deleting a run cascades to all of it.
-- `seq` numbers rows in the order the server received them (tie-break for
-- timelines when two rows share a timestamp).

CREATE TABLE runs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('build', 'system', 'demo', 'test', 'bench')),
    name          text NOT NULL,
    spec_path     text,
    spec_sha256   text,
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    model         text,
    config        jsonb NOT NULL DEFAULT '{}',
    package_path  text,
    error         text,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_started_at ON runs (started_at DESC);

CREATE TABLE messages (
    seq              bigserial,
    id               uuid PRIMARY KEY,
    run_id           uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    conversation_id  uuid NOT NULL,
    sender           text NOT NULL,
    recipient        text,
    topic            text,
    kind             text NOT NULL,
    body             jsonb NOT NULL,
    reply_to         uuid,
    hop              integer NOT NULL,
    expects_reply    boolean NOT NULL,
    created_at       timestamptz NOT NULL,
    deadline         timestamptz,
    CHECK ((recipient IS NULL) <> (topic IS NULL))
);
CREATE INDEX messages_run ON messages (run_id, seq);

-- One row per model call (the LLM runtime fills it).
CREATE TABLE completions (
    seq             bigserial,
    id              uuid PRIMARY KEY,
    run_id          uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    message_id      uuid,
    agent           text NOT NULL,
    call_index      integer NOT NULL,
    backend         text NOT NULL,
    model_id        text NOT NULL,
    model_revision  text,
    settings        jsonb NOT NULL,
    seed            bigint,
    prompt          jsonb NOT NULL,
    json_schema     jsonb,
    output          text NOT NULL,
    parsed          jsonb,
    tokens_in       integer NOT NULL,
    tokens_out      integer NOT NULL,
    latency_ms      double precision NOT NULL,
    batch_size      integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL
);
CREATE INDEX completions_run ON completions (run_id, seq);

-- Versioned artefacts of a run (Requirements, Blueprint, ...): version n of
-- a kind is the n-th attempt at it.
CREATE TABLE artefacts (
    seq         bigserial,
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage       text NOT NULL,
    kind        text NOT NULL,
    version     integer NOT NULL,
    body        jsonb NOT NULL,
    sha256      text NOT NULL,
    message_id  uuid,
    created_at  timestamptz NOT NULL,
    UNIQUE (run_id, kind, version)
);

CREATE TABLE verdicts (
    seq          bigserial,
    id           uuid PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    artefact_id  uuid NOT NULL,
    stage        text NOT NULL,
    approved     boolean NOT NULL,
    reasons      jsonb NOT NULL,
    checks       jsonb NOT NULL,
    message_id   uuid,
    created_at   timestamptz NOT NULL
);
CREATE INDEX verdicts_run ON verdicts (run_id, seq);

-- Things that happened beside the messages. run_id is NULL for events of a
-- process rather than a run (the spool switching on and off).
CREATE TABLE events (
    seq         bigserial,
    id          uuid PRIMARY KEY,
    run_id      uuid REFERENCES runs (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN
                  ('loop', 'deadline', 'retry', 'error', 'spool', 'dead_letter', 'interrupt')),
    agent       text,
    message_id  uuid,
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL
);
CREATE INDEX events_run ON events (run_id, seq);

-- Every generated file, with the artefact and message that produced it.
CREATE TABLE files (
    seq          bigserial,
    id           uuid PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    path         text NOT NULL,
    sha256       text NOT NULL,
    size         bigint NOT NULL,
    artefact_id  uuid,
    message_id   uuid,
    created_at   timestamptz NOT NULL
);
CREATE INDEX files_run ON files (run_id, seq);
