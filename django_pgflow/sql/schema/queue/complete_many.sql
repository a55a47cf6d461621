CREATE OR REPLACE FUNCTION django_pgflow.complete_many(
    p_worker_id bigint, p_ids bigint[], p_attempts integer[], p_results jsonb[], p_run_ids bigint[] DEFAULT NULL
)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
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
DECLARE
    v_bad bigint[] := django_pgflow.unreadable_results(p_ids, p_results);
    v_held bigint[];
    v_applied bigint[];
    v_runs bigint[];
    v_steps text[];
    v_indexes integer[];
    v_outputs jsonb[];
BEGIN
    -- Step jobs cascade into their runs (complete_step_tasks, below); take
    -- the run locks up front in id order so that two workers completing
    -- tasks of the same runs cannot deadlock. A worker passes the run ids it
    -- knows from the claim ('{}' for plain jobs: no lookup at all).
    PERFORM 1 FROM pgflow_run
    WHERE id = ANY (coalesce(
        p_run_ids,
        ARRAY(SELECT run_id FROM pgflow_job WHERE id = ANY (p_ids) AND run_id IS NOT NULL)))
    ORDER BY id
    FOR UPDATE;

    IF cardinality(v_bad) > 0 THEN
        PERFORM django_pgflow.fail(p_worker_id, r.id, r.attempt,
                    jsonb_build_object('error', 'InvalidResultError', 'traceback', NULL,
                                       'message', django_pgflow.result_problem(r.result)),
                    false)
        FROM unnest(p_ids, p_attempts, p_results) AS r(id, attempt, result)
        WHERE r.id = ANY (v_bad)
        ORDER BY r.id;
    END IF;

    -- One statement completes the jobs; the step jobs among them then cascade
    -- set-based (complete_step_tasks), not through a trigger call per job.
    -- The jobs this worker's attempt still holds, locked: one primary-key
    -- probe each. The probe sees only "id = r.id" (OFFSET 0 keeps the fence
    -- out of it): with the fence inside, the planner could scan the partial
    -- lease index of every started job instead, whenever stale statistics
    -- call it small (a 10,000-task map then took O(n) per completion).
    v_held := ARRAY(
        SELECT j.id
        FROM unnest(p_ids, p_attempts) AS r(id, attempt)
        CROSS JOIN LATERAL (SELECT j.id, j.status, j.attempts, j.worker_id FROM pgflow_job j
                            WHERE j.id = r.id OFFSET 0 FOR UPDATE) j
        WHERE j.status = 'started' AND j.attempts = r.attempt AND j.worker_id = p_worker_id
          AND NOT r.id = ANY (v_bad));
    WITH done AS (
        UPDATE pgflow_job j
        SET status = 'completed', result = r.result, finished_at = now(), lease_expires_at = NULL
        FROM unnest(p_ids, p_results) AS r(id, result)
        WHERE j.id = r.id AND j.id = ANY (v_held)
        RETURNING j.id, j.gated, j.run_id, j.step_slug, j.task_index, j.result
    )
    SELECT coalesce(array_agg(CASE WHEN d.gated THEN (SELECT d.id FROM pg_notify('django_pgflow', '*'))
                                   ELSE d.id END), '{}'),
           coalesce(array_agg(d.run_id) FILTER (WHERE d.step_slug IS NOT NULL), '{}'),
           array_agg(d.step_slug) FILTER (WHERE d.step_slug IS NOT NULL),
           array_agg(d.task_index) FILTER (WHERE d.step_slug IS NOT NULL),
           array_agg(d.result) FILTER (WHERE d.step_slug IS NOT NULL)
    INTO v_applied, v_runs, v_steps, v_indexes, v_outputs
    FROM done d;
    IF cardinality(v_runs) > 0 THEN
        PERFORM django_pgflow.complete_step_tasks(v_runs, v_steps, v_indexes, v_outputs);
    END IF;
    RETURN QUERY SELECT unnest(v_applied);
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_many(bigint, bigint[], integer[], jsonb[], bigint[]) IS
'complete() for many jobs of one worker in one statement; returns the ids it applied. Ids it does not return were late reports (that worker''s attempt no longer holds the job), ignored, or results no part of the system could read back, whose jobs fail instead. Step jobs cascade into their runs, whose ids p_run_ids may name (NULL: looked up). Completing a gated job wakes every worker.';

REVOKE EXECUTE ON FUNCTION django_pgflow.complete_many(bigint,bigint[],integer[],jsonb[],bigint[]) FROM PUBLIC;
