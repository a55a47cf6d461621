CREATE OR REPLACE FUNCTION django_pgflow.enqueue_many(p_jobs jsonb)
RETURNS TABLE (ord bigint, id bigint)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    -- Jobs of queues with limits are gated (claim_gated): looked up once.
    v_limited text[] := ARRAY(SELECT l.queue::text FROM pgflow_queue_limit l);
BEGIN
    -- Every item is checked before any is inserted: one bad item refuses the
    -- whole batch, and the error names it by its position.
    PERFORM django_pgflow.check_jobs_json(p_jobs);
    RETURN QUERY SELECT k.ord, k.id FROM django_pgflow.enqueue_keyed(p_jobs) k;

    -- The rest in one INSERT. Sequence values are drawn in row order, so the
    -- n-th smallest new id belongs to the n-th job.
    RETURN QUERY
    WITH src AS (
        SELECT e.j, e.o FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
        WHERE e.j->>'unique_key' IS NULL
    ),
    checked AS (
        SELECT src.*, src.j->>'queue' AS queue FROM src
    ),
    ins AS (
        INSERT INTO pgflow_job (
            queue, task_name, args, kwargs, status, priority, run_at, attempts, failures,
            max_attempts, retry_delay, max_retry_delay, timeout, errors, created_at,
            resources, lock_key, gated, metadata
        )
        SELECT c.queue, c.j->>'task_name', coalesce(c.j->'args', '[]'), coalesce(c.j->'kwargs', '{}'),
               'queued', coalesce((c.j->>'priority')::integer, 0),
               coalesce((c.j->>'run_at')::timestamptz,
                        now() + make_interval(secs => coalesce((c.j->>'delay')::float8, 0))),
               0, 0, coalesce((c.j->>'max_attempts')::integer, 3),
               coalesce((c.j->>'retry_delay')::float8, 1),
               coalesce((c.j->>'max_retry_delay')::float8, 3600),
               coalesce((c.j->>'timeout')::float8, 300), '[]', now(),
               django_pgflow.check_resources(c.j->'resources'), c.j->>'lock_key',
               django_pgflow.gated(c.j->'resources', c.j->>'lock_key', c.queue = ANY (v_limited)),
               CASE WHEN jsonb_typeof(c.j->'metadata') = 'object' THEN c.j->'metadata' ELSE '{}' END
        FROM checked c ORDER BY c.o
        RETURNING pgflow_job.id
    )
    -- Zip two sorted arrays rather than join on row_number(): the join was
    -- planned as a nested loop, quadratic in the batch size.
    SELECT u.o, u.id
    FROM unnest(
        ARRAY(SELECT src.o FROM src ORDER BY src.o),
        ARRAY(SELECT ins.id FROM ins ORDER BY ins.id)
    ) AS u(o, id);
END;
$$;

COMMENT ON FUNCTION django_pgflow.enqueue_many(jsonb) IS
'Enqueues a JSON array of jobs (objects with enqueue()''s parameter names, without the p_ prefix) in one call; returns (ord, id) pairs, ord being the 1-based position in the array. Checks every item first (check_jobs_json): one bad item refuses the whole batch, naming its position.';

REVOKE EXECUTE ON FUNCTION django_pgflow.enqueue_many(jsonb) FROM PUBLIC;
