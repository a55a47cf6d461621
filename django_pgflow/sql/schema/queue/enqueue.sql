CREATE OR REPLACE FUNCTION django_pgflow.enqueue(
    p_queue text,
    p_task_name text,
    p_args jsonb DEFAULT '[]',
    p_kwargs jsonb DEFAULT '{}',
    p_priority integer DEFAULT 0,
    p_run_at timestamptz DEFAULT NULL,
    p_delay float8 DEFAULT NULL,
    p_max_attempts integer DEFAULT 3,
    p_retry_delay float8 DEFAULT 1,
    p_max_retry_delay float8 DEFAULT 3600,
    p_timeout float8 DEFAULT 300,
    p_unique_key text DEFAULT NULL,
    p_resources jsonb DEFAULT NULL,
    p_lock_key text DEFAULT NULL,
    p_metadata jsonb DEFAULT NULL
)
RETURNS pgflow_job
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_job pgflow_job;
    -- Most jobs ask for no resources and carry no metadata: their checks
    -- (each a function with a pinned search_path) are skipped then.
    v_resources jsonb := CASE WHEN p_resources IS NOT NULL
        THEN django_pgflow.check_possible(django_pgflow.check_resources(p_resources)) END;
    v_metadata jsonb := CASE WHEN p_metadata IS NULL THEN '{}'
        ELSE django_pgflow.check_metadata(p_metadata) END;
    v_queue text;
BEGIN
    v_queue := django_pgflow.check_job(
        p_queue, p_task_name, p_args, p_kwargs, p_priority, p_run_at, p_delay, p_max_attempts,
        p_retry_delay, p_max_retry_delay, p_timeout, p_unique_key, p_lock_key
    );

    -- A unique key with an active job returns that job. The loop covers the
    -- race where the holder finishes between our insert and our select. The
    -- arbiter names unique_key IS NOT NULL so that it also matches a unique
    -- index that leaves keyless jobs out.
    LOOP
        INSERT INTO pgflow_job (
            queue, task_name, args, kwargs, status, priority, run_at, attempts, failures,
            max_attempts, retry_delay, max_retry_delay, timeout, unique_key, errors, created_at,
            resources, lock_key, gated, metadata
        ) VALUES (
            p_queue, p_task_name, p_args, p_kwargs, 'queued', p_priority,
            coalesce(p_run_at, now() + make_interval(secs => coalesce(p_delay, 0))), 0, 0,
            p_max_attempts, p_retry_delay, p_max_retry_delay, p_timeout, p_unique_key, '[]', now(),
            v_resources, p_lock_key,
            django_pgflow.gated(v_resources, p_lock_key,
                                EXISTS (SELECT 1 FROM pgflow_queue_limit l WHERE l.queue = p_queue)),
            v_metadata
        )
        ON CONFLICT (unique_key) WHERE status IN ('queued', 'started') AND unique_key IS NOT NULL
        DO NOTHING
        RETURNING * INTO v_job;
        IF FOUND THEN
            RETURN v_job;
        END IF;
        SELECT * INTO v_job FROM pgflow_job
        WHERE unique_key = p_unique_key AND status IN ('queued', 'started');
        IF FOUND THEN
            RETURN v_job;
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.enqueue(text, text, jsonb, jsonb, integer, timestamptz, float8, integer, float8, float8, float8, text, jsonb, text, jsonb) IS
'Inserts one queued job (run_at defaults to now() + delay, database time) and returns it; refuses (invalid_parameter_value, naming it) a missing, out-of-range or unreadable argument, a payload over max_payload_bytes(), and resources that could never be given. With a unique key that already has a queued or started job, returns that job instead. p_resources ({"gpu": 1}) and p_lock_key gate its claim; p_metadata (a JSON object) travels with the job, never passed to the task.';

REVOKE EXECUTE ON FUNCTION django_pgflow.enqueue(text, text, jsonb, jsonb, integer, timestamptz, float8, integer, float8, float8, float8, text, jsonb, text, jsonb) FROM PUBLIC;
