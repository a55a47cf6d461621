CREATE OR REPLACE FUNCTION django_pgflow.sync_slots()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    c record;
    h record;
    v_active integer;
    v_slot integer;
    v_count integer;
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
        -- Started jobs hold what they need (after an upgrade, or a capacity
        -- declared again while its jobs ran): a slot each unit, a retired one
        -- past the capacity.
        FOR h IN
            SELECT j.id, j.attempts,
                   (CASE WHEN c.kind = 'queue' THEN 1 ELSE (j.resources->>c.name)::integer END)
                   - (SELECT count(*) FROM pgflow_slot s
                      WHERE s.kind = c.kind AND s.name = c.name
                        AND s.job_id = j.id AND s.attempt = j.attempts)::integer AS missing
            FROM pgflow_job j
            WHERE j.status = 'started'
              AND CASE WHEN c.kind = 'queue' THEN j.queue = c.name ELSE j.resources ? c.name END
        LOOP
            FOR i IN 1..h.missing LOOP
                SELECT s.n INTO v_slot FROM pgflow_slot s
                WHERE s.kind = c.kind AND s.name = c.name AND s.job_id IS NULL AND NOT s.retired
                ORDER BY s.n LIMIT 1 FOR UPDATE;
                IF FOUND THEN
                    UPDATE pgflow_slot s SET job_id = h.id, attempt = h.attempts
                    WHERE s.kind = c.kind AND s.name = c.name AND s.n = v_slot;
                ELSE
                    INSERT INTO pgflow_slot (kind, name, n, job_id, attempt, retired)
                    SELECT c.kind, c.name, coalesce(max(s.n), 0) + 1, h.id, h.attempts, true
                    FROM pgflow_slot s WHERE s.kind = c.kind AND s.name = c.name;
                END IF;
            END LOOP;
        END LOOP;

        -- Then exactly `capacity` slots count: retired ones come back first,
        -- new ones follow; past the capacity, free slots go and held ones
        -- retire (a later call drops them once their jobs are done).
        SELECT count(*) INTO v_active FROM pgflow_slot s
        WHERE s.kind = c.kind AND s.name = c.name AND NOT s.retired;
        IF v_active < c.capacity THEN
            UPDATE pgflow_slot s SET retired = false
            WHERE s.kind = c.kind AND s.name = c.name
              AND s.n IN (SELECT o.n FROM pgflow_slot o
                          WHERE o.kind = c.kind AND o.name = c.name AND o.retired
                          ORDER BY o.n LIMIT c.capacity - v_active);
            GET DIAGNOSTICS v_count = ROW_COUNT;
            INSERT INTO pgflow_slot (kind, name, n, job_id, attempt, retired)
            SELECT c.kind, c.name, m.top + g, NULL, NULL, false
            FROM (SELECT coalesce(max(s.n), 0) AS top FROM pgflow_slot s
                  WHERE s.kind = c.kind AND s.name = c.name) m
            CROSS JOIN generate_series(1, c.capacity - v_active - v_count) g;
        ELSIF v_active > c.capacity THEN
            DELETE FROM pgflow_slot s
            WHERE s.kind = c.kind AND s.name = c.name
              AND s.n IN (SELECT o.n FROM pgflow_slot o
                          WHERE o.kind = c.kind AND o.name = c.name AND o.job_id IS NULL
                          ORDER BY o.n DESC LIMIT v_active - c.capacity);
            GET DIAGNOSTICS v_count = ROW_COUNT;
            UPDATE pgflow_slot s SET retired = true
            WHERE s.kind = c.kind AND s.name = c.name
              AND s.n IN (SELECT o.n FROM pgflow_slot o
                          WHERE o.kind = c.kind AND o.name = c.name AND NOT o.retired
                          ORDER BY o.n DESC LIMIT v_active - c.capacity - v_count);
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_slots() IS
'Makes pgflow_slot match the declared capacities (pgflow_resource, pgflow_queue_limit.concurrency) and the started jobs holding them: clears slots whose attempt is over, gives running attempts that hold none their slots, adds, retires or drops slots to match each capacity. Called by sync_limits; safe to call at any time.';
