-- What a build observed outside its own code, besides the model's answers
-- (completions): the generated system's runs in the sandbox (its tests, its
-- answers to the examples, its wheel and install) and the clock readings
-- that steer budget decisions. Numbered per agent like completions, so a
-- re-execution or a resume answers the n-th observation of an agent from
-- its n-th row here.
CREATE TABLE observations (
    seq         bigserial,
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    agent       text NOT NULL,
    call_index  integer NOT NULL,
    kind        text NOT NULL,
    request     jsonb NOT NULL,
    result      jsonb NOT NULL,
    message_id  uuid,
    created_at  timestamptz NOT NULL,
    UNIQUE (run_id, agent, call_index)
);

-- The generated system's runs of a build are runs of their own whose
-- config names the build: found by it for inspect, replay and prune.
CREATE INDEX runs_parent ON runs ((config->>'parent_run'));
CREATE INDEX artefacts_run ON artefacts (run_id, seq);
