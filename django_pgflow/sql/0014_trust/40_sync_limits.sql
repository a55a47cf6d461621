-- sync_limits() checks what it is given (a capacity of 100,000,000 made as
-- many slot rows), stores PGFLOW["MAX_PAYLOAD_BYTES"] for the payload checks,
-- and sets aside, or takes back in, queued jobs whose resources a change made
-- impossible, or possible again. Only the owner may call it (migrate,
-- pgflow_sync, runworkers run by the owner): capacities are not the worker
-- role's to change.
DROP FUNCTION IF EXISTS django_pgflow.sync_limits(jsonb, jsonb);

CREATE OR REPLACE FUNCTION django_pgflow.check_limits(p_resources jsonb, p_queues jsonb, p_settings jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_key text;
    v_value jsonb;
BEGIN
    IF jsonb_typeof(p_resources) IS DISTINCT FROM 'object' OR jsonb_typeof(p_queues) IS DISTINCT FROM 'object'
       OR jsonb_typeof(coalesce(p_settings, '{}')) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'pgflow: sync_limits takes three JSON objects (resources, queue limits, settings)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_key, v_value IN SELECT key, value FROM jsonb_each(p_resources) LOOP
        PERFORM django_pgflow.check_queue_name(v_key);
        PERFORM django_pgflow.check_whole('capacity of resource ' || v_key, v_value, 0, 10000);
    END LOOP;
    FOR v_key, v_value IN SELECT key, value FROM jsonb_each(p_queues) LOOP
        PERFORM django_pgflow.check_queue_name(v_key);
        IF jsonb_typeof(v_value) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'pgflow: the limits of queue % must be a JSON object', v_key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM django_pgflow.check_whole('concurrency of queue ' || v_key, v_value->'concurrency', 1, 10000, true),
                django_pgflow.check_whole('rate limit count of queue ' || v_key, v_value->'rate_count', 1, 1000000, true);
        IF (v_value->'rate_count' IS NULL) <> (v_value->'rate_period' IS NULL)
           OR jsonb_typeof(v_value->'rate_period') NOT IN ('number')
           OR (v_value->>'rate_period')::numeric NOT BETWEEN 0.001 AND 31622400 THEN
            RAISE EXCEPTION 'pgflow: queue % needs a rate_period between 0.001 and 31622400 seconds with its rate_count, got %',
                    v_key, coalesce(v_value->>'rate_period', 'none')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    PERFORM django_pgflow.check_whole('max_payload_bytes', p_settings->'max_payload_bytes', 1, 67108864, true);
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_limits(jsonb, jsonb, jsonb) IS
'Raises invalid_parameter_value naming the first bad entry of sync_limits()''s arguments: resource capacities 0-10000, queue concurrency 1-10000, rate limits of 1-1000000 starts per 0.001-31622400 seconds, max_payload_bytes 1-67108864 (64 MiB).';

CREATE OR REPLACE FUNCTION django_pgflow.check_whole(
    p_what text, p_value jsonb, p_min integer, p_max integer, p_optional boolean DEFAULT false
)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    IF p_optional AND (p_value IS NULL OR p_value = 'null') THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_value) IS DISTINCT FROM 'number' OR p_value::numeric % 1 <> 0
       OR p_value::numeric NOT BETWEEN p_min AND p_max THEN
        RAISE EXCEPTION 'pgflow: % must be a whole number from % to %, got %', p_what, p_min, p_max, coalesce(p_value::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_value::integer;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_whole(text, jsonb, integer, integer, boolean) IS
'Returns p_value as an integer when it is a JSON whole number from p_min to p_max (or absent, when p_optional), else raises invalid_parameter_value naming p_what.';

CREATE OR REPLACE FUNCTION django_pgflow.sync_limits(p_resources jsonb, p_queues jsonb, p_settings jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_before text[] := ARRAY(SELECT queue::text FROM pgflow_queue_limit);
    -- queue -> its rate limit before this call
    v_rates jsonb := coalesce((SELECT jsonb_object_agg(l.queue, jsonb_build_array(l.rate_count, l.rate_period))
                               FROM pgflow_queue_limit l), '{}');
    v_after text[];
    v_capacities jsonb := coalesce((SELECT jsonb_object_agg(r.name, r.capacity) FROM pgflow_resource r), '{}');
    q record;
BEGIN
    p_resources := coalesce(p_resources, '{}');
    p_queues := coalesce(p_queues, '{}');
    PERFORM django_pgflow.check_limits(p_resources, p_queues, p_settings);
    INSERT INTO pgflow_config (id, max_payload_bytes, updated_at)
    VALUES (1, coalesce((p_settings->>'max_payload_bytes')::integer, 1048576), now())
    ON CONFLICT (id) DO UPDATE SET max_payload_bytes = EXCLUDED.max_payload_bytes, updated_at = now()
    WHERE pgflow_config.max_payload_bytes IS DISTINCT FROM EXCLUDED.max_payload_bytes;
    -- Settings are the truth: what they no longer declare goes. A resource
    -- that vanished leaves its waiting jobs waiting (capacity 0), visibly,
    -- in the contention view, rather than running them unguarded.
    DELETE FROM pgflow_resource r
    WHERE NOT coalesce(p_resources, '{}'::jsonb) ? r.name;
    INSERT INTO pgflow_resource (name, capacity, updated_at)
    SELECT key, value::integer, now() FROM jsonb_each_text(coalesce(p_resources, '{}'::jsonb))
    ON CONFLICT (name) DO UPDATE SET capacity = EXCLUDED.capacity, updated_at = now()
    WHERE pgflow_resource.capacity IS DISTINCT FROM EXCLUDED.capacity;

    -- p_queues: {"emails": {"concurrency": 5, "rate_count": 100, "rate_period": 60}}, only
    -- the queues that have a limit.
    DELETE FROM pgflow_queue_limit l
    WHERE NOT coalesce(p_queues, '{}'::jsonb) ? l.queue;
    INSERT INTO pgflow_queue_limit (queue, concurrency, rate_count, rate_period, updated_at)
    SELECT key, (value->>'concurrency')::integer, (value->>'rate_count')::integer,
           (value->>'rate_period')::float8, now()
    FROM jsonb_each(coalesce(p_queues, '{}'::jsonb))
    ON CONFLICT (queue) DO UPDATE SET
        concurrency = EXCLUDED.concurrency, rate_count = EXCLUDED.rate_count,
        rate_period = EXCLUDED.rate_period, updated_at = now()
    WHERE (pgflow_queue_limit.concurrency, pgflow_queue_limit.rate_count, pgflow_queue_limit.rate_period)
          IS DISTINCT FROM (EXCLUDED.concurrency, EXCLUDED.rate_count, EXCLUDED.rate_period);

    -- Queued jobs of a queue that gained limits become gated, and those of a
    -- queue that lost them (with no resources or lock key of their own) plain
    -- again: the claim reads the flag, not the queue. Only changed queues are
    -- touched, through the ready indexes.
    v_after := ARRAY(SELECT queue::text FROM pgflow_queue_limit);
    UPDATE pgflow_job j SET gated = true
    WHERE j.status = 'queued' AND NOT j.gated
      AND j.queue = ANY (ARRAY(SELECT unnest(v_after) EXCEPT SELECT unnest(v_before)));
    UPDATE pgflow_job j SET gated = false
    WHERE j.status = 'queued' AND j.gated AND j.resources IS NULL AND j.lock_key IS NULL
      AND j.queue = ANY (ARRAY(SELECT unnest(v_before) EXCEPT SELECT unnest(v_after)));

    -- A rate limit is split into up to 8 shards whose budgets add up to it,
    -- so that claims of one queue spend it in parallel. A changed limit
    -- starts with a fresh window.
    DELETE FROM pgflow_queue_rate_shard h
    WHERE NOT EXISTS (SELECT 1 FROM pgflow_queue_limit l
                      WHERE l.queue = h.queue AND l.rate_count IS NOT NULL);
    FOR q IN SELECT l.queue, l.rate_count, l.rate_period FROM pgflow_queue_limit l
             WHERE l.rate_count IS NOT NULL LOOP
        CONTINUE WHEN v_rates->q.queue = jsonb_build_array(q.rate_count, q.rate_period)
            AND EXISTS (SELECT 1 FROM pgflow_queue_rate_shard h WHERE h.queue = q.queue);
        DELETE FROM pgflow_queue_rate_shard h WHERE h.queue = q.queue;
        INSERT INTO pgflow_queue_rate_shard (queue, shard, budget, last_bucket, counts)
        SELECT q.queue, g, q.rate_count / least(q.rate_count, 8)
                           + CASE WHEN g <= q.rate_count % least(q.rate_count, 8) THEN 1 ELSE 0 END,
               0, array_fill(0, ARRAY[101])
        FROM generate_series(1, least(q.rate_count, 8)) AS g;
    END LOOP;

    PERFORM django_pgflow.sync_slots();

    -- Capacities changed: jobs set aside may fit now (the next claim looks
    -- at them again), and queued jobs that no longer fit are set aside.
    IF v_capacities IS DISTINCT FROM coalesce((SELECT jsonb_object_agg(r.name, r.capacity) FROM pgflow_resource r), '{}') THEN
        UPDATE pgflow_job j SET impossible = NULL
        WHERE j.status = 'queued' AND j.impossible IS NOT NULL;
        UPDATE pgflow_job j SET impossible = django_pgflow.resources_problem(j.resources)
        WHERE j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.resources IS NOT NULL
          AND django_pgflow.resources_problem(j.resources) IS NOT NULL;
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_limits(jsonb, jsonb, jsonb) IS
'Replaces the declared resource capacities, their slots, the rate shards ({"gpu": 1}), queue limits ({"emails": {"concurrency": 5, "rate_count": 100, "rate_period": 60}}) and settings ({"max_payload_bytes": 1048576}) with the given ones, after check_limits(); sets aside queued jobs that no longer fit (pgflow_job.impossible) and takes back those that do. Called from PGFLOW settings by migrate, pgflow_sync and a worker started by the owner.';
