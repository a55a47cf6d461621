-- Replaces 0002's three-argument version: a second overload would make
-- three-argument calls ambiguous.
DROP FUNCTION IF EXISTS django_pgflow.complete_many(bigint[], integer[], jsonb[]);

CREATE OR REPLACE FUNCTION django_pgflow.complete_many(
    p_ids bigint[], p_attempts integer[], p_results jsonb[], p_run_ids bigint[] DEFAULT NULL
)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Key lookups only: with the table analyzed while small, the planner would
-- hash-join the batch against every started job, a cost that grows with the
-- work in flight (invariant 7). Each id is one primary-key probe instead.
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
-- The disabled plan nodes above carry a huge cost on PostgreSQL <= 17, which
-- would make every call cross the JIT thresholds and compile (hundreds of ms).
SET jit = off
-- The enable_* settings above keep the plan cache from ever settling on a
-- generic plan, so every call re-planned its statements (a third of a claim's
-- server time). The generic plan is the same ready-index scan.
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    -- Step jobs cascade into their runs (trigger pgflow_job_step_cascade);
    -- take the run locks up front in id order so that two workers completing
    -- tasks of the same runs cannot deadlock. A worker passes the run ids it
    -- knows from the claim ('{}' for plain jobs: no lookup at all).
    PERFORM 1 FROM pgflow_run
    WHERE id = ANY (coalesce(
        p_run_ids,
        ARRAY(SELECT run_id FROM pgflow_job WHERE id = ANY (p_ids) AND run_id IS NOT NULL)))
    ORDER BY id
    FOR UPDATE;

    RETURN QUERY
    UPDATE pgflow_job j
    SET status = 'completed', result = r.result, finished_at = now(), lease_expires_at = NULL
    FROM unnest(p_ids, p_attempts, p_results) AS r(id, attempt, result)
    WHERE j.id = r.id AND j.attempts = r.attempt AND j.status = 'started'
    RETURNING j.id;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_many(bigint[], integer[], jsonb[], bigint[]) IS
'complete() for many jobs in one statement; returns the ids it applied. Ids it does not return were late reports, ignored. Step jobs cascade into their runs, whose ids p_run_ids may name (NULL: looked up).';
