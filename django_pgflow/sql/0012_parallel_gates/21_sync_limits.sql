CREATE OR REPLACE FUNCTION django_pgflow.sync_limits(p_resources jsonb, p_queues jsonb)
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
    q record;
BEGIN
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
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_limits(jsonb, jsonb) IS
'Replaces the declared resource capacities, their slots, the rate shards ({"gpu": 1}) and queue limits ({"emails": {"concurrency": 5, "rate_count": 100, "rate_period": 60}}) with the given ones; workers call it at start from PGFLOW settings.';
