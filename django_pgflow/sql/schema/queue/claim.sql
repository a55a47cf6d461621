CREATE OR REPLACE FUNCTION django_pgflow.claim(
    p_worker_id bigint,
    p_queues text[],
    p_limit integer,
    p_lease_margin float8 DEFAULT 30
)
RETURNS TABLE (
    id bigint, queue text, task_name text, args jsonb, kwargs jsonb, attempts integer,
    priority integer, timeout float8, run_id bigint, task_index integer, metadata jsonb
)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
-- Invariant 7: the plan must not depend on statistics. With sorts and
-- bitmap/sequential scans priced out, the only plan left is the ordered scan
-- of the ready index, whether the table was analyzed empty or full.
SET enable_sort = off
SET enable_bitmapscan = off
SET enable_seqscan = off
-- The disabled plan nodes above carry a huge cost on PostgreSQL <= 17, which
-- would make every call cross the JIT thresholds and compile (hundreds of ms).
SET jit = off
-- The enable_* settings above keep the plan cache from ever settling on a
-- generic plan, so every call re-planned its statements (a third of a claim's
-- server time). The generic plan is the same ready-index scan.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_ids bigint[];
    v_gated bigint[];
    v_gated_at timestamptz;
BEGIN
    PERFORM django_pgflow.check_worker(p_worker_id);
    PERFORM django_pgflow.check_seconds('lease_margin', p_lease_margin);
    IF p_limit IS NULL OR p_limit NOT BETWEEN 0 AND 10000 THEN
        RAISE EXCEPTION 'pgflow: a claim takes between 0 and 10000 jobs, got %', coalesce(p_limit::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Gated jobs first (resources, lock keys, limited queues): they are
    -- taken only as what they need frees up, so they come before plain jobs
    -- rather than starve behind an endless stream of them.
    SELECT g.ids, g.started_at INTO v_gated, v_gated_at
    FROM django_pgflow.claim_gated(p_queues, p_limit) g;
    p_limit := p_limit - cardinality(v_gated);

    -- Three shapes of the same pick, each matching one partial index on ready
    -- rows exactly. The any-queue shapes order by -priority, an expression
    -- only pgflow_job_ready_idx holds, so a single-queue pick can never drift
    -- onto it (nor the other way round), however stale the statistics.
    IF p_limit <= 0 THEN
        v_ids := '{}';
    ELSIF p_queues IS NULL OR cardinality(p_queues) = 0 THEN
        v_ids := ARRAY(
            SELECT j.id FROM pgflow_job j
            WHERE j.status = 'queued' AND NOT j.gated AND j.run_at <= now()
            ORDER BY (-(j.priority::integer)), j.run_at, j.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        );
    ELSIF cardinality(p_queues) = 1 THEN
        v_ids := ARRAY(
            SELECT j.id FROM pgflow_job j
            WHERE j.status = 'queued' AND NOT j.gated AND j.queue = p_queues[1] AND j.run_at <= now()
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        );
    ELSE
        v_ids := ARRAY(
            SELECT j.id FROM pgflow_job j
            WHERE j.status = 'queued' AND NOT j.gated AND j.queue = ANY (p_queues) AND j.run_at <= now()
            ORDER BY (-(j.priority::integer)), j.run_at, j.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        );
    END IF;
    v_ids := v_gated || v_ids;

    -- RETURNING has no order of its own: hand the batch back in the order
    -- it was picked, so a worker holding more jobs than threads keeps it.
    RETURN QUERY
    WITH claimed AS (
        UPDATE pgflow_job j
        SET status = 'started', attempts = j.attempts + 1, worker_id = p_worker_id,
            started_at = CASE WHEN j.id = ANY (v_gated) THEN v_gated_at ELSE now() END,
            waited = CASE WHEN j.id = ANY (v_gated)
                          THEN greatest(0, extract(epoch FROM v_gated_at - j.run_at))::float8 END,
            lease_expires_at = now() + make_interval(secs => j.timeout + p_lease_margin)
        WHERE j.id = ANY (v_ids)
        RETURNING j.id, j.queue::text AS queue, j.task_name::text AS task_name, j.args, j.kwargs,
                  j.attempts, j.priority::integer AS priority, j.timeout, j.run_id, j.task_index,
                  j.metadata, j.step_slug::text AS step_slug
    ), step_tasks AS (
        -- A step's jobs mirror their claim onto their tasks, in this same
        -- statement: no trigger call per job, no run lock; by index even when
        -- statistics predate the tasks (a map's, made after the last ANALYZE).
        UPDATE pgflow_step_task t SET status = 'started', attempts = c.attempts
        FROM claimed c
        WHERE t.job_id = ANY (v_ids) AND c.run_id IS NOT NULL AND c.step_slug IS NOT NULL
          AND t.run_id = c.run_id AND t.step_slug = c.step_slug AND t.task_index = c.task_index
          AND t.job_id = c.id AND t.status IN ('queued', 'started')
    )
    SELECT c.id, c.queue, c.task_name, c.args, c.kwargs, c.attempts, c.priority, c.timeout,
           c.run_id, c.task_index, c.metadata
    FROM claimed c ORDER BY array_position(v_ids, c.id);
END;
$$;

COMMENT ON FUNCTION django_pgflow.claim(bigint, text[], integer, float8) IS
'Claims up to p_limit ready jobs (priority DESC, run_at, id; gated jobs, claimed only while their resources, lock key and queue limits allow, first) from p_queues (NULL or empty: all) for a worker: FOR UPDATE SKIP LOCKED, so no two workers get the same attempt; sets the lease to now() + timeout + margin and returns the claimed rows with their new attempt number (the fencing token).';

REVOKE EXECUTE ON FUNCTION django_pgflow.claim(bigint,text[],integer,double precision) FROM PUBLIC;
