CREATE OR REPLACE FUNCTION django_pgflow.store_limits(p_resources jsonb, p_queues jsonb, p_settings jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    INSERT INTO pgflow_config (id, max_payload_bytes, updated_at)
    VALUES (1, coalesce((p_settings->>'max_payload_bytes')::integer, 1048576), now())
    ON CONFLICT (id) DO UPDATE SET max_payload_bytes = EXCLUDED.max_payload_bytes, updated_at = now()
    WHERE pgflow_config.max_payload_bytes IS DISTINCT FROM EXCLUDED.max_payload_bytes;
    -- Settings are the truth: what they no longer declare goes. A resource
    -- that vanished leaves its waiting jobs waiting, visibly, in the
    -- contention view, rather than running them unguarded.
    DELETE FROM pgflow_resource r WHERE NOT p_resources ? r.name;
    INSERT INTO pgflow_resource (name, capacity, updated_at)
    SELECT key, value::integer, now() FROM jsonb_each_text(p_resources)
    ON CONFLICT (name) DO UPDATE SET capacity = EXCLUDED.capacity, updated_at = now()
    WHERE pgflow_resource.capacity IS DISTINCT FROM EXCLUDED.capacity;
    -- Only the queues that have a limit.
    DELETE FROM pgflow_queue_limit l WHERE NOT p_queues ? l.queue;
    INSERT INTO pgflow_queue_limit (queue, concurrency, rate_count, rate_period, updated_at)
    SELECT key, (value->>'concurrency')::integer, (value->>'rate_count')::integer,
           (value->>'rate_period')::float8, now()
    FROM jsonb_each(p_queues)
    ON CONFLICT (queue) DO UPDATE SET
        concurrency = EXCLUDED.concurrency, rate_count = EXCLUDED.rate_count,
        rate_period = EXCLUDED.rate_period, updated_at = now()
    WHERE (pgflow_queue_limit.concurrency, pgflow_queue_limit.rate_count, pgflow_queue_limit.rate_period)
          IS DISTINCT FROM (EXCLUDED.concurrency, EXCLUDED.rate_count, EXCLUDED.rate_period);
END;
$$;

COMMENT ON FUNCTION django_pgflow.store_limits(jsonb, jsonb, jsonb) IS
'sync_limits()''s writes of checked settings: the payload limit (pgflow_config), resource capacities (pgflow_resource) and queue limits (pgflow_queue_limit), each replaced by what is given, unchanged rows left alone.';

REVOKE EXECUTE ON FUNCTION django_pgflow.store_limits(jsonb, jsonb, jsonb) FROM PUBLIC;
