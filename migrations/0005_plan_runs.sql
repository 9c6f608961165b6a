-- `autogenesis plan SPEC` logs how a spec was read (stages 1 and 2, with the
-- approver's verdicts) as a run of its own kind.
ALTER TABLE runs DROP CONSTRAINT runs_kind_check;
ALTER TABLE runs ADD CONSTRAINT runs_kind_check
    CHECK (kind IN ('build', 'system', 'demo', 'test', 'bench', 'generate', 'replay', 'plan'));
