CREATE OR REPLACE FUNCTION django_pgflow.enqueue_batch(
    p_options jsonb, p_option integer[], p_args jsonb, p_kwargs jsonb DEFAULT NULL, p_metadata jsonb DEFAULT NULL
)
RETURNS TABLE (ord bigint, id bigint)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_groups record;
BEGIN
    -- Everything is checked before anything is inserted: one bad job refuses
    -- the whole batch, and the error names it by its position.
    PERFORM django_pgflow.check_batch(p_options, p_option, p_args, p_kwargs, p_metadata);
    -- Each group of options as typed columns, looked up by index per job
    -- (the group's position in p_options, from 0).
    SELECT array_agg(g.j->>'queue' ORDER BY g.o) AS queue,
           array_agg(g.j->>'task_name' ORDER BY g.o) AS task_name,
           array_agg(coalesce((g.j->>'priority')::integer, 0) ORDER BY g.o) AS priority,
           array_agg((g.j->>'run_at')::timestamptz ORDER BY g.o) AS run_at,
           array_agg(coalesce((g.j->>'delay')::float8, 0) ORDER BY g.o) AS delay,
           array_agg(coalesce((g.j->>'max_attempts')::integer, 3) ORDER BY g.o) AS max_attempts,
           array_agg(coalesce((g.j->>'retry_delay')::float8, 1) ORDER BY g.o) AS retry_delay,
           array_agg(coalesce((g.j->>'max_retry_delay')::float8, 3600) ORDER BY g.o) AS max_retry_delay,
           array_agg(coalesce((g.j->>'timeout')::float8, 300) ORDER BY g.o) AS timeout,
           array_agg(django_pgflow.check_resources(g.j->'resources') ORDER BY g.o) AS resources,
           array_agg(g.j->>'lock_key' ORDER BY g.o) AS lock_key,
           array_agg(g.j->>'unique_key' IS NOT NULL ORDER BY g.o) AS keyed,
           array_agg(django_pgflow.gated(g.j->'resources', g.j->>'lock_key',
                         EXISTS (SELECT FROM pgflow_queue_limit l WHERE l.queue = g.j->>'queue'))
                     ORDER BY g.o) AS gated
    INTO v_groups
    FROM jsonb_array_elements(p_options) WITH ORDINALITY AS g(j, o);

    -- A unique key needs enqueue()'s conflict handling: one job at a time.
    RETURN QUERY
    SELECT i.o, (django_pgflow.enqueue(
        o.j->>'queue', o.j->>'task_name', i.args, coalesce(i.kwargs, '{}'),
        coalesce((o.j->>'priority')::integer, 0), (o.j->>'run_at')::timestamptz,
        (o.j->>'delay')::float8, coalesce((o.j->>'max_attempts')::integer, 3),
        coalesce((o.j->>'retry_delay')::float8, 1), coalesce((o.j->>'max_retry_delay')::float8, 3600),
        coalesce((o.j->>'timeout')::float8, 300), o.j->>'unique_key', o.j->'resources',
        o.j->>'lock_key', i.metadata)).id
    FROM ROWS FROM (unnest(p_option), jsonb_array_elements(p_args), jsonb_array_elements(p_kwargs),
                    jsonb_array_elements(p_metadata)) WITH ORDINALITY AS i(g, args, kwargs, metadata, o)
    CROSS JOIN LATERAL (SELECT p_options->i.g AS j) o
    WHERE v_groups.keyed[i.g + 1]
    ORDER BY i.o;

    -- The rest in one INSERT. Sequence values are drawn in row order, so the
    -- n-th smallest new id belongs to the n-th job.
    RETURN QUERY
    WITH src AS (
        SELECT i.g + 1 AS g, i.args, i.kwargs, i.metadata, i.o
        FROM ROWS FROM (unnest(p_option), jsonb_array_elements(p_args), jsonb_array_elements(p_kwargs),
                        jsonb_array_elements(p_metadata)) WITH ORDINALITY AS i(g, args, kwargs, metadata, o)
        WHERE NOT v_groups.keyed[i.g + 1]
    ), ins AS (
        INSERT INTO pgflow_job (
            queue, task_name, args, kwargs, status, priority, run_at, attempts, failures,
            max_attempts, retry_delay, max_retry_delay, timeout, errors, created_at,
            resources, lock_key, gated, metadata
        )
        SELECT v_groups.queue[s.g], v_groups.task_name[s.g], s.args, coalesce(s.kwargs, '{}'), 'queued',
               v_groups.priority[s.g],
               coalesce(v_groups.run_at[s.g], now() + make_interval(secs => v_groups.delay[s.g])),
               0, 0, v_groups.max_attempts[s.g], v_groups.retry_delay[s.g],
               v_groups.max_retry_delay[s.g], v_groups.timeout[s.g], '[]', now(),
               v_groups.resources[s.g], v_groups.lock_key[s.g], v_groups.gated[s.g],
               CASE WHEN jsonb_typeof(s.metadata) = 'object' THEN s.metadata ELSE '{}' END
        FROM src s ORDER BY s.o
        RETURNING pgflow_job.id
    )
    -- Zip two sorted arrays rather than join on row_number() (planned as a
    -- nested loop, quadratic in the batch size).
    SELECT u.o, u.id
    FROM unnest(ARRAY(SELECT src.o FROM src ORDER BY src.o), ARRAY(SELECT ins.id FROM ins ORDER BY ins.id))
        AS u(o, id);
END;
$$;

COMMENT ON FUNCTION django_pgflow.enqueue_batch(jsonb, integer[], jsonb, jsonb, jsonb) IS
'Inserts many queued jobs at once and returns (ord, id) for each, ord its position from 1; what enqueue_many() does, sent without repeating options: p_options is a JSON array of option objects (enqueue_many()''s item fields other than args, kwargs and metadata), p_option the index in it (from 0) of each job''s options, and p_args, p_kwargs, p_metadata JSON arrays of each job''s args, kwargs (NULL: all {}) and metadata (NULL: none). Refuses the whole batch (invalid_parameter_value, naming the first wrong job) unless every job is valid. A job with a unique key that already has an active job returns that job''s id.';

REVOKE EXECUTE ON FUNCTION django_pgflow.enqueue_batch(jsonb, integer[], jsonb, jsonb, jsonb) FROM PUBLIC;
