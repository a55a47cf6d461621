CREATE OR REPLACE VIEW pgflow_slot_state AS
SELECT s.kind, s.name, s.n, s.job_id, s.attempt, s.retired,
       s.job_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pgflow_job h
           WHERE h.id = s.job_id
             AND (h.attempts > s.attempt OR (h.attempts = s.attempt AND h.status <> 'started'))
       ) AS held
FROM pgflow_slot s;

COMMENT ON VIEW pgflow_slot_state IS
'pgflow_slot with held: true while the attempt the slot was given to (job_id, attempt) runs or is being claimed, false once the job''s row shows that attempt over. A deleted job''s slot reads as held until the DELETE''s statement trigger clears it.';
