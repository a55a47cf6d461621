CREATE OR REPLACE FUNCTION django_pgflow.speaks_for(p_worker_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    -- Every worker connects as the same role: what tells its own sessions from
    -- another's is the secret it set on them (pgflow.worker_secret, never
    -- stored, only hashed) before it registered. A worker registered without
    -- one (a plain-SQL worker) is spoken for by the sessions holding its lock.
    SELECT coalesce((
        SELECT CASE
            WHEN w.secret_hash IS NULL THEN (django_pgflow.worker_sessions(w.id)).own
            ELSE w.secret_hash = sha256(convert_to(coalesce(current_setting('pgflow.worker_secret', true), ''), 'UTF8'))
        END
        FROM pgflow_worker w
        WHERE w.id = p_worker_id
    ), false);
$$;

COMMENT ON FUNCTION django_pgflow.speaks_for(bigint) IS
'Whether the calling session is the worker p_worker_id: its pgflow.worker_secret hashes to the one the worker registered with, or (a worker registered without a secret) it holds the worker''s liveness lock.';

REVOKE EXECUTE ON FUNCTION django_pgflow.speaks_for(bigint) FROM PUBLIC;
