CREATE OR REPLACE FUNCTION django_pgflow.pick_gated_batch(
    p_queues text[], p_one text, p_closed text[], p_exhausted text[], p_keys text[], p_seen bigint[],
    p_want integer,
    OUT id bigint[], OUT queue text[], OUT res jsonb[], OUT lock_key text[], OUT attempt integer[],
    OUT blocked boolean[], OUT pick bigint[]
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
#variable_conflict use_column
BEGIN
    -- The batch, its rows, and whether an earlier job of each one's lock key
    -- is queued or started, in one statement: one snapshot sees that earlier
    -- job either queued or started (a claim in flight still shows it
    -- queued), never neither. Of the two picks, the one not asked for stops
    -- at its one-time filter; each matches one index under a generic plan.
    WITH one_queue AS (
        SELECT j.id, j.queue, j.resources, j.lock_key, j.attempts, j.priority, j.run_at
        FROM pgflow_job j
        WHERE p_one IS NOT NULL
          AND j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.queue = p_one AND j.run_at <= now()
          AND NOT j.queue = ANY (p_closed)
          AND (j.resources IS NULL OR NOT j.resources ?| p_exhausted)
          AND (j.lock_key IS NULL OR NOT j.lock_key = ANY (p_keys))
          AND NOT j.id = ANY (p_seen)
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT p_want
        FOR UPDATE SKIP LOCKED
    ), any_queue AS (
        SELECT j.id, j.queue, j.resources, j.lock_key, j.attempts, j.priority, j.run_at
        FROM pgflow_job j
        WHERE p_one IS NULL
          AND j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.run_at <= now()
          AND (p_queues IS NULL OR cardinality(p_queues) = 0 OR j.queue = ANY (p_queues))
          AND NOT j.queue = ANY (p_closed)
          AND (j.resources IS NULL OR NOT j.resources ?| p_exhausted)
          AND (j.lock_key IS NULL OR NOT j.lock_key = ANY (p_keys))
          AND NOT j.id = ANY (p_seen)
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT p_want
        FOR UPDATE SKIP LOCKED
    )
    -- The arrays follow the sorted subquery's order (one sort, not one
    -- per array), which also computes each job's lock-key check once.
    -- pick is the batch's pick when no job in it needs a slot (the batch
    -- holds no job of a closed queue).
    SELECT coalesce(array_agg(j.id), '{}'), array_agg(j.queue::text), array_agg(j.resources),
           array_agg(j.lock_key::text), array_agg(j.attempts), array_agg(j.blocked),
           coalesce(array_agg(j.id) FILTER (WHERE NOT j.blocked), '{}')
    INTO id, queue, res, lock_key, attempt, blocked, pick
    FROM (SELECT u.*, u.lock_key IS NOT NULL AND EXISTS (
                      SELECT 1 FROM pgflow_job o
                      WHERE o.lock_key = u.lock_key AND o.id <> u.id
                        AND (o.status = 'started'
                             OR (o.status = 'queued' AND o.id < u.id AND o.impossible IS NULL))) AS blocked
          FROM (SELECT * FROM one_queue UNION ALL SELECT * FROM any_queue) u
          ORDER BY u.priority DESC, u.run_at, u.id) j;
END;
$$;

COMMENT ON FUNCTION django_pgflow.pick_gated_batch(text[], text, text[], text[], text[], bigint[], integer) IS
'claim_gated()''s next batch: up to p_want ready gated jobs of p_queues (p_one: the only one), in claim order, locked FOR UPDATE SKIP LOCKED, leaving out closed queues, exhausted resources, lock keys taken and jobs already seen; as parallel arrays, with blocked (an earlier job of its lock key is queued or started) and pick (the jobs not blocked).';

REVOKE EXECUTE ON FUNCTION django_pgflow.pick_gated_batch(text[], text, text[], text[], text[], bigint[], integer) FROM PUBLIC;
