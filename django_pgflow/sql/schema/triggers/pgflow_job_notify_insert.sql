-- One wake-up per queue that gained ready work; delivered at commit.
PERFORM pg_notify('django_pgflow', q.queue)
FROM (SELECT DISTINCT queue FROM new_rows WHERE status = 'queued') q;
RETURN NULL;
