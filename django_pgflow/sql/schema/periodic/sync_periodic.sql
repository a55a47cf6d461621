CREATE OR REPLACE FUNCTION django_pgflow.sync_periodic(
    p_name text,
    p_task_name text,
    p_cron text,
    p_timezone text,
    p_job jsonb,
    p_last_tick timestamptz,
    p_next_tick timestamptz
)
RETURNS pgflow_periodic
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_schedule pgflow_periodic;
BEGIN
    IF p_name IS NULL OR p_name = '' OR p_task_name IS NULL OR p_task_name = '' THEN
        RAISE EXCEPTION 'pgflow: a periodic schedule needs a name and a task name'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(p_job) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'pgflow: the job of periodic schedule % must be a JSON object, got %',
            quote_literal(p_name), jsonb_typeof(p_job)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_queue_name(p_job->>'queue');

    -- p_last_tick is the latest tick at or before now under this cron: a new
    -- schedule, or one whose cron or time zone changed, starts at its next
    -- tick and enqueues nothing for ticks before it was declared.
    INSERT INTO pgflow_periodic AS s (
        name, task_name, cron, timezone, job, last_tick, next_tick, created_at, updated_at
    ) VALUES (
        p_name, p_task_name, p_cron, p_timezone, p_job, p_last_tick, p_next_tick, now(), now()
    )
    ON CONFLICT (name) DO UPDATE SET
        task_name = EXCLUDED.task_name,
        job = EXCLUDED.job,
        cron = EXCLUDED.cron,
        timezone = EXCLUDED.timezone,
        last_tick = CASE
            WHEN (s.cron, s.timezone) IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.timezone)
                THEN greatest(s.last_tick, EXCLUDED.last_tick)
            ELSE coalesce(s.last_tick, EXCLUDED.last_tick)
        END,
        next_tick = EXCLUDED.next_tick,
        updated_at = CASE
            WHEN (s.task_name, s.job, s.cron, s.timezone)
                 IS DISTINCT FROM (EXCLUDED.task_name, EXCLUDED.job, EXCLUDED.cron, EXCLUDED.timezone)
                THEN now()
            ELSE s.updated_at
        END
    RETURNING * INTO v_schedule;
    RETURN v_schedule;
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_periodic(text, text, text, text, jsonb, timestamptz, timestamptz) IS
'Creates or updates one periodic schedule. A new schedule, or one whose cron or time zone changed, starts after p_last_tick (the latest tick at or before now): no job is enqueued for ticks before it was declared. An unchanged schedule keeps its last_tick.';

REVOKE EXECUTE ON FUNCTION django_pgflow.sync_periodic(text,text,text,text,jsonb,timestamp with time zone,timestamp with time zone) FROM PUBLIC;
