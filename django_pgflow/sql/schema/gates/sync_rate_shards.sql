CREATE OR REPLACE FUNCTION django_pgflow.sync_rate_shards(p_rates_before jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    q record;
BEGIN
    -- A rate limit is split into up to 8 shards whose budgets add up to it,
    -- so that claims of one queue spend it in parallel. A changed limit
    -- starts with a fresh window.
    DELETE FROM pgflow_queue_rate_shard h
    WHERE NOT EXISTS (SELECT 1 FROM pgflow_queue_limit l
                      WHERE l.queue = h.queue AND l.rate_count IS NOT NULL);
    FOR q IN SELECT l.queue, l.rate_count, l.rate_period FROM pgflow_queue_limit l
             WHERE l.rate_count IS NOT NULL LOOP
        CONTINUE WHEN p_rates_before->q.queue = jsonb_build_array(q.rate_count, q.rate_period)
            AND EXISTS (SELECT 1 FROM pgflow_queue_rate_shard h WHERE h.queue = q.queue);
        DELETE FROM pgflow_queue_rate_shard h WHERE h.queue = q.queue;
        INSERT INTO pgflow_queue_rate_shard (queue, shard, budget, last_bucket, counts)
        SELECT q.queue, g, q.rate_count / least(q.rate_count, 8)
                           + CASE WHEN g <= q.rate_count % least(q.rate_count, 8) THEN 1 ELSE 0 END,
               0, array_fill(0, ARRAY[101])
        FROM generate_series(1, least(q.rate_count, 8)) AS g;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_rate_shards(jsonb) IS
'Makes pgflow_queue_rate_shard match the rate limits of pgflow_queue_limit: up to 8 shards per limit, a fresh window for a limit that changed since p_rates_before ({queue: [count, period]}).';

REVOKE EXECUTE ON FUNCTION django_pgflow.sync_rate_shards(jsonb) FROM PUBLIC;
