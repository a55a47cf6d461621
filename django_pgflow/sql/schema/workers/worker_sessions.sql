CREATE OR REPLACE FUNCTION django_pgflow.worker_sessions(p_worker_id bigint, OUT own boolean, OUT others boolean)
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    SELECT coalesce(bool_or(l.pid = pg_backend_pid()), false),
           coalesce(bool_or(l.pid <> pg_backend_pid()), false)
    FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.classid = 1885824631::oid
      AND l.objid = ((p_worker_id & 2147483647)::integer)::oid
      AND l.objsubid = 2;
$$;

COMMENT ON FUNCTION django_pgflow.worker_sessions(bigint) IS
'Whether the calling session (own) and whether any other session (others) holds the worker''s liveness lock (see keep_alive).';

REVOKE EXECUTE ON FUNCTION django_pgflow.worker_sessions(bigint) FROM PUBLIC;
