-- enqueue_many() checks what enqueue() checks, through the same check_job():
-- lock keys ('' was turned into NULL), payloads, and resources that could
-- never be given.
CREATE OR REPLACE FUNCTION django_pgflow.enqueue_many(p_jobs jsonb)
RETURNS TABLE (ord bigint, id bigint)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_item record;
    -- Jobs of queues with limits are gated (claim_gated): looked up once.
    v_limited text[] := ARRAY(SELECT l.queue::text FROM pgflow_queue_limit l);
    v_max_bytes integer := django_pgflow.max_payload_bytes();
BEGIN
    IF jsonb_typeof(p_jobs) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'pgflow: enqueue_many takes a JSON array of jobs, got %', jsonb_typeof(p_jobs)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Every item is checked before any is inserted, and the error names a bad
    -- item by its position. Items differ mostly in args and kwargs: their
    -- types are checked set-based, and the full check runs once per distinct
    -- set of the other fields (a batch of one task: once), not once per item.
    SELECT e.j, e.o INTO v_item
    FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
    WHERE jsonb_typeof(e.j) IS DISTINCT FROM 'object'
       OR jsonb_typeof(coalesce(e.j->'args', '[]')) <> 'array'
       OR jsonb_typeof(coalesce(e.j->'kwargs', '{}')) <> 'object'
    ORDER BY e.o LIMIT 1;
    IF FOUND THEN
        PERFORM django_pgflow.check_job_json(v_item.j, v_item.o);  -- raises, naming it
    END IF;
    -- Payloads: depth and numbers in one pass over the whole array (an item's
    -- args sit two levels below it), sizes item by item; the slow search for
    -- the item to name runs only when something is wrong.
    IF jsonb_path_exists(p_jobs, 'strict $.**{103 to last}')
       OR jsonb_path_exists(p_jobs, 'strict $.** ? (@.type() == "number" && (@ > 1.7976931348623157e308 || @ < -1.7976931348623157e308))')
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_jobs) AS e(j)
                  WHERE octet_length(coalesce(e.j->'args', '[]')::text)
                        + octet_length(coalesce(e.j->'kwargs', '{}')::text) > v_max_bytes) THEN
        SELECT e.j, e.o INTO v_item
        FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
        WHERE django_pgflow.json_problem(coalesce(e.j->'args', '[]')) IS NOT NULL
           OR django_pgflow.json_problem(coalesce(e.j->'kwargs', '{}')) IS NOT NULL
           OR django_pgflow.json_problem(e.j) IS NOT NULL
           OR octet_length(coalesce(e.j->'args', '[]')::text)
              + octet_length(coalesce(e.j->'kwargs', '{}')::text) > v_max_bytes
        ORDER BY e.o LIMIT 1;
        PERFORM django_pgflow.check_job_json(v_item.j, v_item.o);  -- raises, naming it
    END IF;
    PERFORM django_pgflow.check_job_json(g.j, g.o)
    FROM (
        SELECT DISTINCT ON (e.j - 'args' - 'kwargs') e.j, e.o
        FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
        ORDER BY e.j - 'args' - 'kwargs', e.o
    ) g
    ORDER BY g.o;

    -- Jobs with a unique key need enqueue()'s conflict handling: one by one.
    FOR v_item IN
        SELECT e.j, e.o FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
        WHERE e.j->>'unique_key' IS NOT NULL ORDER BY e.o
    LOOP
        ord := v_item.o;
        id := (django_pgflow.enqueue(
            v_item.j->>'queue', v_item.j->>'task_name',
            coalesce(v_item.j->'args', '[]'), coalesce(v_item.j->'kwargs', '{}'),
            coalesce((v_item.j->>'priority')::integer, 0), (v_item.j->>'run_at')::timestamptz,
            (v_item.j->>'delay')::float8, coalesce((v_item.j->>'max_attempts')::integer, 3),
            coalesce((v_item.j->>'retry_delay')::float8, 1),
            coalesce((v_item.j->>'max_retry_delay')::float8, 3600),
            coalesce((v_item.j->>'timeout')::float8, 300), v_item.j->>'unique_key',
            v_item.j->'resources', v_item.j->>'lock_key'
        )).id;
        RETURN NEXT;
    END LOOP;

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
            resources, lock_key, gated
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
               c.j->'resources' IS NOT NULL AND c.j->'resources' NOT IN ('null', '{}')
                   OR c.j->>'lock_key' IS NOT NULL OR c.queue = ANY (v_limited)
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
'Enqueues a JSON array of jobs (objects with enqueue()''s parameter names, without the p_ prefix) in one call; returns (ord, id) pairs, ord being the 1-based position in the array. Checks every item first (check_job_json): one bad item refuses the whole batch, naming its position.';
