CREATE OR REPLACE FUNCTION django_pgflow.register_worker(
    p_hostname text, p_pid integer, p_queues jsonb, p_concurrency integer
)
RETURNS bigint
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
    INSERT INTO pgflow_worker (hostname, pid, queues, concurrency, state, started_at, last_heartbeat)
    VALUES (p_hostname, p_pid, p_queues, p_concurrency, 'running', now(), now())
    RETURNING id;
$$;

COMMENT ON FUNCTION django_pgflow.register_worker(text, integer, jsonb, integer) IS
'Registers a starting worker process and returns its id.';

REVOKE EXECUTE ON FUNCTION django_pgflow.register_worker(text,integer,jsonb,integer) FROM PUBLIC;
