-- A build whose system passes fewer of its spec's checks than one plain call of the
-- same model reworks it while the budget allows, then goes on with the best version
-- and logs a `shortfall` event saying so.
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('loop', 'deadline', 'retry', 'error', 'spool', 'dead_letter', 'interrupt',
                    'shortfall'));
