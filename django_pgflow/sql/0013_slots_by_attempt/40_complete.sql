-- A gated job that completes wakes every worker ('*'): what it held may be
-- what jobs of any queue wait for. The worker's completions (complete_many,
-- and complete_and_claim through it) send that wake-up here, from the
-- statement that completes the jobs, rather than from a row trigger: a
-- trigger call per job (with pgtrigger's wrapper, which opens a
-- subtransaction each time) cost more than the rest of finishing a gated
-- job. The trigger pgflow_job_notify_release still wakes workers for every
-- other way out of 'started'. Several wake-ups in one transaction are
-- delivered once.
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
    RETURNING CASE WHEN j.gated THEN (SELECT j.id FROM pg_notify('django_pgflow', '*')) ELSE j.id END;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_many(bigint[], integer[], jsonb[], bigint[]) IS
'complete() for many jobs in one statement; returns the ids it applied. Ids it does not return were late reports, ignored. Step jobs cascade into their runs, whose ids p_run_ids may name (NULL: looked up). Completing a gated job wakes every worker.';

CREATE OR REPLACE FUNCTION django_pgflow.complete(p_job_id bigint, p_attempt integer, p_result jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_gated boolean;
BEGIN
    UPDATE pgflow_job
    SET status = 'completed', result = p_result, finished_at = now(), lease_expires_at = NULL
    WHERE id = p_job_id AND attempts = p_attempt AND status = 'started'
    RETURNING gated INTO v_gated;
    IF NOT FOUND THEN
        RAISE LOG 'pgflow: ignored late completion of job % attempt %', p_job_id, p_attempt;
        RETURN false;
    END IF;
    IF v_gated THEN
        PERFORM pg_notify('django_pgflow', '*');
    END IF;
    RETURN true;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete(bigint, integer, jsonb) IS
'Completes one job with its result, fenced by the attempt number it was claimed with: returns false (and changes nothing) when that attempt no longer holds the job. Completing a gated job wakes every worker.';
