CREATE OR REPLACE FUNCTION django_pgflow.sync_limits(p_resources jsonb, p_queues jsonb, p_settings jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_limited text[] := ARRAY(SELECT queue::text FROM pgflow_queue_limit);
    -- queue -> its rate limit before this call
    v_rates jsonb := coalesce((SELECT jsonb_object_agg(l.queue, jsonb_build_array(l.rate_count, l.rate_period))
                               FROM pgflow_queue_limit l), '{}');
    v_capacities jsonb := coalesce((SELECT jsonb_object_agg(r.name, r.capacity) FROM pgflow_resource r), '{}');
BEGIN
    p_resources := coalesce(p_resources, '{}');
    p_queues := coalesce(p_queues, '{}');
    PERFORM django_pgflow.check_limits(p_resources, p_queues, p_settings);
    PERFORM django_pgflow.store_limits(p_resources, p_queues, p_settings);
    PERFORM django_pgflow.regate_queues(v_limited);
    PERFORM django_pgflow.sync_rate_shards(v_rates);
    PERFORM django_pgflow.sync_slots();
    IF v_capacities IS DISTINCT FROM coalesce((SELECT jsonb_object_agg(r.name, r.capacity) FROM pgflow_resource r), '{}') THEN
        PERFORM django_pgflow.recheck_impossible();
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_limits(jsonb, jsonb, jsonb) IS
'Replaces the declared resource capacities, their slots, the rate shards ({"gpu": 1}), queue limits ({"emails": {"concurrency": 5, "rate_count": 100, "rate_period": 60}}) and settings ({"max_payload_bytes": 1048576}) with the given ones, after check_limits(); sets aside queued jobs that no longer fit (pgflow_job.impossible) and takes back those that do. Called from PGFLOW settings by migrate, pgflow_sync and a worker started by the owner.';

REVOKE EXECUTE ON FUNCTION django_pgflow.sync_limits(jsonb, jsonb, jsonb) FROM PUBLIC;
