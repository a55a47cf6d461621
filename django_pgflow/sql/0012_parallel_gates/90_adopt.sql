-- An upgraded install: slots for what is declared, held by the jobs running
-- now, and rate shards for the queues that have a rate limit.
SELECT django_pgflow.sync_limits(
    (SELECT coalesce(jsonb_object_agg(r.name, r.capacity), '{}') FROM pgflow_resource r),
    (SELECT coalesce(jsonb_object_agg(l.queue, jsonb_strip_nulls(jsonb_build_object(
         'concurrency', l.concurrency, 'rate_count', l.rate_count, 'rate_period', l.rate_period))), '{}')
     FROM pgflow_queue_limit l));
