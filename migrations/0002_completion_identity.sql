-- What produced each completion, in enough detail to explain and replay it:
-- the backend's version, the weights' dtype and device, why decoding
-- stopped, and a hash of the prompt (rendered messages + schema + settings)
-- that replay compares before answering from the log.
ALTER TABLE completions
    ADD COLUMN backend_version  text,
    ADD COLUMN dtype            text,
    ADD COLUMN device           text,
    ADD COLUMN finish_reason    text,
    ADD COLUMN prompt_sha256    text;

CREATE INDEX completions_agent_call ON completions (run_id, agent, call_index);

-- `autogenesis generate` logs its one-off calls as runs of their own, and
-- re-executions of a logged run are runs too.
ALTER TABLE runs DROP CONSTRAINT runs_kind_check;
ALTER TABLE runs ADD CONSTRAINT runs_kind_check
    CHECK (kind IN ('build', 'system', 'demo', 'test', 'bench', 'generate', 'replay'));
