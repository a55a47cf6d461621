CREATE OR REPLACE FUNCTION django_pgflow.reap(p_dead_after float8 DEFAULT 60)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
-- Key lookups only: a table analyzed while small must not turn them into
-- sequential scans that grow with every run (invariant 7).
SET enable_seqscan = off
-- The disabled plan nodes above carry a huge cost on PostgreSQL <= 17, which
-- would make every call cross the JIT thresholds and compile (hundreds of ms).
SET jit = off
AS $$
DECLARE
    v_job record;
    v_count integer := 0;
    v_silent bigint[];
BEGIN
    -- A negative age would call every live worker dead and fail its jobs.
    PERFORM django_pgflow.check_seconds('dead_after', p_dead_after, false);
    -- Silence alone does not prove death: a heartbeat thread may wait for the
    -- CPU on a busy machine. A worker is lost when it is silent and none of
    -- its connections still holds its liveness lock (keep_alive), or when it
    -- is silent five times as long: a frozen process (SIGSTOP, a paused VM)
    -- keeps its connections open but will not beat again.
    -- Silence is counted from the server's start at the earliest: no worker
    -- could beat while the database was down, and after a restart each one
    -- needs a moment to reconnect.
    SELECT coalesce(array_agg(w.id), '{}') INTO v_silent
    FROM pgflow_worker w
    CROSS JOIN LATERAL (SELECT greatest(w.last_heartbeat, pg_postmaster_start_time()) AS heard) s
    WHERE w.state <> 'stopped' AND s.heard < now() - make_interval(secs => p_dead_after)
      AND (s.heard < now() - make_interval(secs => 5 * p_dead_after)
           OR NOT (django_pgflow.worker_sessions(w.id)).others);
    -- A started job whose lease expired, or whose worker stopped heartbeating,
    -- lost its worker: that attempt counts as failed (and may be retried).
    -- Step jobs go in run order, so cascades lock runs in id order.
    FOR v_job IN
        SELECT j.id, j.attempts, j.worker_id,
               CASE WHEN j.lease_expires_at < now() THEN 'lease expired'
                    ELSE 'worker stopped heartbeating' END AS reason
        FROM pgflow_job j
        LEFT JOIN pgflow_worker w ON w.id = j.worker_id
        WHERE j.status = 'started'
          AND (j.lease_expires_at < now()
               OR w.id IS NULL
               OR w.state = 'stopped'
               OR j.worker_id = ANY (v_silent))
        ORDER BY j.run_id NULLS FIRST, j.id
        FOR UPDATE OF j SKIP LOCKED
    LOOP
        PERFORM django_pgflow.fail_attempt(
            v_job.id, v_job.attempts,
            jsonb_build_object(
                'error', 'WorkerLostError',
                'message', format('worker %s lost job %s: %s', v_job.worker_id, v_job.id, v_job.reason),
                'traceback', NULL
            )
        );
        v_count := v_count + 1;
    END LOOP;
    -- A worker silent that long is lost: say so (its own heartbeat, should it
    -- come back from a freeze or a network cut, marks it running again).
    UPDATE pgflow_worker SET state = 'lost', stopped_at = now()
    WHERE id = ANY (v_silent) AND state = 'running';
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION django_pgflow.reap(float8) IS
'Fails (with retry) every started job whose lease expired or whose worker is stopped, missing, or silent for p_dead_after seconds with no session holding its liveness lock (or silent five times as long), and marks such workers lost. Returns how many jobs it reaped.';

REVOKE EXECUTE ON FUNCTION django_pgflow.reap(double precision) FROM PUBLIC;
