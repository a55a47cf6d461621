-- Completions are fenced by worker as well as attempt: a worker cannot
-- complete what another holds. A result nothing could read back (json_problem,
-- max_payload_bytes) fails its job, without retry, instead of completing it:
-- as a step output it would reach the next step's worker.
DROP FUNCTION IF EXISTS django_pgflow.complete_and_claim(
    bigint, text[], integer, float8, bigint[], integer[], jsonb[], bigint[]);
DROP FUNCTION IF EXISTS django_pgflow.complete_many(bigint[], integer[], jsonb[], bigint[]);
DROP FUNCTION IF EXISTS django_pgflow.complete(bigint, integer, jsonb);

CREATE OR REPLACE FUNCTION django_pgflow.result_problem(p_result jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    RETURN coalesce(
        'result ' || django_pgflow.json_problem(p_result),
        CASE WHEN octet_length(p_result::text) > django_pgflow.max_payload_bytes()
             THEN format('result is %s bytes of JSON, over the limit of %s bytes',
                         octet_length(p_result::text), django_pgflow.max_payload_bytes()) END);
END;
$$;

COMMENT ON FUNCTION django_pgflow.result_problem(jsonb) IS
'NULL when a job result can be stored, else why not (json_problem, or over max_payload_bytes()).';

-- The results of a batch that every check would pass, in one look at them
-- all; the ids of the others otherwise.
CREATE OR REPLACE FUNCTION django_pgflow.unreadable_results(p_ids bigint[], p_results jsonb[])
RETURNS bigint[]
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_all jsonb := to_jsonb(p_results);
BEGIN
    -- A result's values sit one level below the array of them all; a text is
    -- at most six times its binary size (\u escapes).
    IF NOT jsonb_path_exists(v_all, 'strict $.**{102 to last}')
       AND NOT jsonb_path_exists(v_all, 'strict $.** ? (@.type() == "number" && (@ > 1.7976931348623157e308 || @ < -1.7976931348623157e308))')
       AND (pg_column_size(v_all)::bigint * 6 <= django_pgflow.max_payload_bytes()
            OR NOT EXISTS (SELECT 1 FROM unnest(p_results) r
                           WHERE octet_length(r::text) > django_pgflow.max_payload_bytes())) THEN
        RETURN '{}';
    END IF;
    RETURN ARRAY(SELECT r.id FROM unnest(p_ids, p_results) AS r(id, result)
                 WHERE django_pgflow.result_problem(r.result) IS NOT NULL);
END;
$$;

COMMENT ON FUNCTION django_pgflow.unreadable_results(bigint[], jsonb[]) IS
'The ids (of p_ids, paired with p_results) whose result result_problem() refuses; checks the whole batch at once first.';

CREATE OR REPLACE FUNCTION django_pgflow.complete_many(
    p_worker_id bigint, p_ids bigint[], p_attempts integer[], p_results jsonb[], p_run_ids bigint[] DEFAULT NULL
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
DECLARE
    v_bad bigint[] := django_pgflow.unreadable_results(p_ids, p_results);
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

    IF cardinality(v_bad) > 0 THEN
        PERFORM django_pgflow.fail(p_worker_id, r.id, r.attempt,
                    jsonb_build_object('error', 'InvalidResultError', 'traceback', NULL,
                                       'message', django_pgflow.result_problem(r.result)),
                    false)
        FROM unnest(p_ids, p_attempts, p_results) AS r(id, attempt, result)
        WHERE r.id = ANY (v_bad)
        ORDER BY r.id;
    END IF;

    RETURN QUERY
    UPDATE pgflow_job j
    SET status = 'completed', result = r.result, finished_at = now(), lease_expires_at = NULL
    FROM unnest(p_ids, p_attempts, p_results) AS r(id, attempt, result)
    WHERE j.id = r.id AND j.attempts = r.attempt AND j.status = 'started'
      AND j.worker_id = p_worker_id AND NOT r.id = ANY (v_bad)
    RETURNING CASE WHEN j.gated THEN (SELECT j.id FROM pg_notify('django_pgflow', '*')) ELSE j.id END;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_many(bigint, bigint[], integer[], jsonb[], bigint[]) IS
'complete() for many jobs of one worker in one statement; returns the ids it applied. Ids it does not return were late reports (that worker''s attempt no longer holds the job), ignored, or results no part of the system could read back, whose jobs fail instead. Step jobs cascade into their runs, whose ids p_run_ids may name (NULL: looked up). Completing a gated job wakes every worker.';

CREATE OR REPLACE FUNCTION django_pgflow.complete(
    p_worker_id bigint, p_job_id bigint, p_attempt integer, p_result jsonb DEFAULT NULL
)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM django_pgflow.complete_many(
                   p_worker_id, ARRAY[p_job_id], ARRAY[p_attempt], ARRAY[coalesce(p_result, 'null')])) THEN
        RETURN true;
    END IF;
    RAISE LOG 'pgflow: ignored completion of job % attempt % from worker %', p_job_id, p_attempt, p_worker_id;
    RETURN false;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete(bigint, bigint, integer, jsonb) IS
'A worker completes one job it holds with its result, fenced by worker and attempt: returns false (and changes nothing) when that worker''s attempt no longer holds the job, or when the result could not be read back (the job then fails: result_problem()). Completing a gated job wakes every worker.';
