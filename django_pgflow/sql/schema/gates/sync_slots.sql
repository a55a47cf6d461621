CREATE OR REPLACE FUNCTION django_pgflow.sync_slots()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    c record;
    v_held tid[];
BEGIN
    -- Workers starting together all call this: one at a time.
    PERFORM pg_advisory_xact_lock(7236385167162739);

    -- Slots that name an attempt over, or a job gone, are cleared, so that
    -- job_id shows only what is held. Unlike pgflow_slot_state (which a
    -- claim reads), a job not found counts as gone here: the slots are
    -- locked first, so the check runs in a snapshot taken after any claim
    -- that was giving them out committed, and sees its job. Slots locked by
    -- others (being given out right now) are left alone.
    v_held := ARRAY(SELECT s.ctid FROM pgflow_slot s WHERE s.job_id IS NOT NULL
                    FOR UPDATE SKIP LOCKED);
    UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL
    WHERE s.ctid = ANY (v_held)
      AND NOT EXISTS (SELECT 1 FROM pgflow_job o WHERE o.id = s.job_id
                      AND (o.attempts < s.attempt OR (o.attempts = s.attempt AND o.status = 'started')));

    -- What is declared: a slot per unit of each resource and of each queue's
    -- concurrency cap. What is no longer declared loses its slots; jobs
    -- holding them run on.
    DELETE FROM pgflow_slot s
    WHERE NOT CASE s.kind
        WHEN 'resource' THEN EXISTS (SELECT 1 FROM pgflow_resource r WHERE r.name = s.name)
        ELSE EXISTS (SELECT 1 FROM pgflow_queue_limit l
                     WHERE l.queue = s.name AND l.concurrency IS NOT NULL)
    END;
    -- Retired slots whose jobs are done go.
    DELETE FROM pgflow_slot s WHERE s.retired AND s.job_id IS NULL;

    FOR c IN
        SELECT 'resource'::text AS kind, r.name::text AS name, r.capacity FROM pgflow_resource r
        UNION ALL
        SELECT 'queue', l.queue::text, l.concurrency FROM pgflow_queue_limit l WHERE l.concurrency IS NOT NULL
    LOOP
        PERFORM django_pgflow.give_slots_to_holders(c.kind, c.name);
        PERFORM django_pgflow.size_slot_pool(c.kind, c.name, c.capacity);
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_slots() IS
'Makes pgflow_slot match the declared capacities (pgflow_resource, pgflow_queue_limit.concurrency) and the started jobs holding them: clears slots whose attempt is over, gives running attempts that hold none their slots, adds, retires or drops slots to match each capacity. Called by sync_limits; safe to call at any time.';

REVOKE EXECUTE ON FUNCTION django_pgflow.sync_slots() FROM PUBLIC;
