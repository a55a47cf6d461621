CREATE OR REPLACE VIEW pgflow_contention AS
WITH gated AS (
    SELECT j.id, j.status, j.queue, j.lock_key, j.resources, j.run_at, j.started_at, j.waited
    FROM pgflow_job j
    WHERE j.status IN ('queued', 'started') AND (j.resources IS NOT NULL OR j.lock_key IS NOT NULL)
    UNION ALL
    SELECT j.id, j.status, j.queue, j.lock_key, j.resources, j.run_at, j.started_at, j.waited
    FROM pgflow_job j
    WHERE j.status IN ('completed', 'failed', 'cancelled') AND j.finished_at > now() - interval '1 hour'
      AND j.waited IS NOT NULL
),
needs AS (
    SELECT g.*, e.key AS resource, e.value::integer AS amount
    FROM gated g CROSS JOIN LATERAL jsonb_each_text(g.resources) e
    WHERE g.resources IS NOT NULL
),
in_queue AS (
    SELECT j.id, j.status, j.queue, j.run_at, j.started_at, j.waited
    FROM pgflow_job j JOIN pgflow_queue_limit l ON l.queue = j.queue
    WHERE j.status IN ('queued', 'started')
    UNION ALL
    SELECT j.id, j.status, j.queue, j.run_at, j.started_at, j.waited
    FROM pgflow_job j JOIN pgflow_queue_limit l ON l.queue = j.queue
    WHERE j.status IN ('completed', 'failed', 'cancelled') AND j.finished_at > now() - interval '1 hour'
      AND j.waited IS NOT NULL
)
SELECT 'resource'::text AS kind, r.name::text AS name, r.capacity,
       coalesce(sum(n.amount) FILTER (WHERE n.status = 'started'), 0)::integer AS in_use,
       coalesce(array_agg(n.id ORDER BY n.id) FILTER (WHERE n.status = 'started'), '{}') AS holders,
       count(n.id) FILTER (WHERE n.status = 'queued' AND n.run_at <= now())::integer AS waiting,
       max(extract(epoch FROM now() - n.run_at)) FILTER (WHERE n.status = 'queued' AND n.run_at <= now())::float8
           AS longest_wait,
       avg(n.waited) FILTER (WHERE n.status <> 'queued' AND n.started_at > now() - interval '1 hour')::float8
           AS avg_wait,
       max(n.waited) FILTER (WHERE n.status <> 'queued' AND n.started_at > now() - interval '1 hour')::float8
           AS max_wait,
       NULL::text AS detail
FROM pgflow_resource r LEFT JOIN needs n ON n.resource = r.name
GROUP BY r.name, r.capacity
UNION ALL
SELECT 'queue', l.queue::text, l.concurrency,
       count(q.id) FILTER (WHERE q.status = 'started')::integer,
       coalesce(array_agg(q.id ORDER BY q.id) FILTER (WHERE q.status = 'started'), '{}'),
       count(q.id) FILTER (WHERE q.status = 'queued' AND q.run_at <= now())::integer,
       max(extract(epoch FROM now() - q.run_at)) FILTER (WHERE q.status = 'queued' AND q.run_at <= now())::float8,
       avg(q.waited) FILTER (WHERE q.status <> 'queued' AND q.started_at > now() - interval '1 hour')::float8,
       max(q.waited) FILTER (WHERE q.status <> 'queued' AND q.started_at > now() - interval '1 hour')::float8,
       CASE WHEN l.rate_count IS NOT NULL THEN
           format('rate %s per %ss, %s started in the window', l.rate_count, l.rate_period,
                  django_pgflow.rate_used(l.queue, now()))
       END
FROM pgflow_queue_limit l LEFT JOIN in_queue q ON q.queue = l.queue
GROUP BY l.queue, l.concurrency, l.rate_count, l.rate_period
UNION ALL
SELECT 'lock_key', g.lock_key::text, 1,
       count(*) FILTER (WHERE g.status = 'started')::integer,
       coalesce(array_agg(g.id ORDER BY g.id) FILTER (WHERE g.status = 'started'), '{}'),
       count(*) FILTER (WHERE g.status = 'queued' AND g.run_at <= now())::integer,
       max(extract(epoch FROM now() - g.run_at)) FILTER (WHERE g.status = 'queued' AND g.run_at <= now())::float8,
       avg(g.waited) FILTER (WHERE g.status <> 'queued' AND g.started_at > now() - interval '1 hour')::float8,
       max(g.waited) FILTER (WHERE g.status <> 'queued' AND g.started_at > now() - interval '1 hour')::float8,
       NULL
FROM gated g
WHERE g.lock_key IS NOT NULL AND g.status IN ('queued', 'started')
GROUP BY g.lock_key;

COMMENT ON VIEW pgflow_contention IS
'One row per resource, limited queue and active lock key: capacity (a queue''s concurrency cap; 1 for a lock key), in_use, holders (ids of started jobs), waiting (ready jobs waiting for it), longest_wait of those (s), and avg_wait/max_wait of the jobs that started in the last hour after waiting (s).';
