CREATE OR REPLACE FUNCTION django_pgflow.keep_alive(p_worker_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
BEGIN
    -- A worker registered with a secret is kept alive by its own sessions
    -- only: a lock taken for it elsewhere would let that session stop it.
    IF NOT EXISTS (
        SELECT 1 FROM pgflow_worker w
        WHERE w.id = p_worker_id AND w.state <> 'stopped'
          AND (w.secret_hash IS NULL OR django_pgflow.speaks_for(w.id))
    ) THEN
        RAISE EXCEPTION 'pgflow: this session does not speak for worker %', coalesce(p_worker_id::text, 'NULL')
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A worker keeps itself alive, on sessions that set the pgflow.worker_secret it registered with.';
    END IF;
    -- A session-level lock lives exactly as long as the session: PostgreSQL
    -- drops it when the worker's process or connection dies, and no heartbeat
    -- late for the CPU can make it look dead (see reap).
    PERFORM pg_advisory_lock_shared(1885824631, (p_worker_id & 2147483647)::integer);
END;
$$;

COMMENT ON FUNCTION django_pgflow.keep_alive(bigint) IS
'Takes the worker''s liveness lock (a shared session-level advisory lock, class 1885824631) for the calling session, which must speak for the worker (speaks_for). A worker calls it on each connection it opens; while any of them lives, reap never declares the worker lost by silence and no other session may stop it.';

REVOKE EXECUTE ON FUNCTION django_pgflow.keep_alive(bigint) FROM PUBLIC;
