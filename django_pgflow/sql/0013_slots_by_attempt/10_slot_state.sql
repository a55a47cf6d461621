-- A slot is given to one attempt of a job: (job_id, attempt). It is held while
-- that attempt runs, and free as soon as the job's row shows the attempt over
-- (a later attempt, or the same attempt no longer 'started'), so nothing
-- writes the slot when a job stops: no release trigger, and no way to leak.
--
-- Why claims may trust it: a slot found free but taken since is re-checked,
-- by FOR UPDATE, on its latest version (J, a) against the claim's snapshot,
-- in which J still shows attempt a - 1 queued, or is not visible at all:
-- both read as held, so one slot never goes twice. A view, not a function,
-- so that the check is inlined into the claim's plan.
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

-- Claims lock free slots through the view, which takes privileges of its own:
-- every role that may already update pgflow_slot (a worker role set up as
-- docs/guides/security.md shows) may do so through the view as well.
DO $$
DECLARE
    v_role regrole;
BEGIN
    FOR v_role IN
        SELECT DISTINCT a.grantee::regrole
        FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
        WHERE c.oid = 'pgflow_slot'::regclass AND a.privilege_type = 'UPDATE'
          AND a.grantee <> c.relowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT SELECT, UPDATE ON pgflow_slot_state TO %s', v_role);
    END LOOP;
END;
$$;
