CREATE OR REPLACE FUNCTION django_pgflow.sync_limits(p_resources jsonb, p_queues jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_before text[] := ARRAY(SELECT queue::text FROM pgflow_queue_limit);
    v_after text[];
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
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_limits(jsonb, jsonb) IS
'Replaces the declared resource capacities ({"gpu": 1}) and queue limits ({"emails": {"concurrency": 5, "rate_count": 100, "rate_period": 60}}) with the given ones; workers call it at start from PGFLOW settings.';
