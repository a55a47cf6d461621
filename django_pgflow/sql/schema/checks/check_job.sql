CREATE OR REPLACE FUNCTION django_pgflow.check_job(
    p_queue text,
    p_task_name text,
    p_args jsonb,
    p_kwargs jsonb,
    p_priority integer,
    p_run_at timestamptz,
    p_delay float8,
    p_max_attempts integer,
    p_retry_delay float8,
    p_max_retry_delay float8,
    p_timeout float8,
    p_unique_key text,
    p_lock_key text
)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_size integer;
    v_max integer;
    v_checked text;
BEGIN
    -- Checks are assignments, not PERFORMs: PL/pgSQL evaluates an assignment
    -- as a simple expression, without a trip through the executor.
    v_checked := django_pgflow.check_queue_name(p_queue);
    IF p_task_name IS NULL OR length(p_task_name) > 255
       OR p_task_name !~ '^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$' THEN
        RAISE EXCEPTION 'pgflow: invalid task name %', quote_literal(coalesce(p_task_name, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a dotted Python path such as myapp.tasks.send_welcome (at most 255 characters).';
    END IF;
    IF starts_with(p_task_name, 'pgflow.step.') THEN
        RAISE EXCEPTION 'pgflow: % is the task of a flow step: it runs only as part of a run', quote_literal(p_task_name)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Start the flow with start_flow() instead.';
    END IF;
    IF jsonb_typeof(p_args) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'pgflow: args must be a JSON array, got %', coalesce(jsonb_typeof(p_args), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(p_kwargs) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'pgflow: kwargs must be a JSON object, got %', coalesce(jsonb_typeof(p_kwargs), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Sizes first, one lookup of the limit; check_json() runs only to name
    -- what is wrong.
    v_max := django_pgflow.max_payload_bytes();
    v_size := octet_length(p_args::text) + octet_length(p_kwargs::text);
    IF v_size > v_max OR django_pgflow.json_problem(p_args) IS NOT NULL
       OR django_pgflow.json_problem(p_kwargs) IS NOT NULL THEN
        v_size := django_pgflow.check_json('args', p_args, v_max) + django_pgflow.check_json('kwargs', p_kwargs, v_max);
        RAISE EXCEPTION 'pgflow: args and kwargs are % bytes of JSON, over the limit of % bytes', v_size, v_max
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'PGFLOW["MAX_PAYLOAD_BYTES"] sets the limit. Store large data elsewhere and pass a reference.';
    END IF;
    IF p_priority IS NULL OR p_priority NOT BETWEEN -32768 AND 32767 THEN
        RAISE EXCEPTION 'pgflow: priority must be an integer between -32768 and 32767, got %', coalesce(p_priority::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT isfinite(p_run_at) THEN
        RAISE EXCEPTION 'pgflow: run_at must be a finite time, got %', p_run_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_delay IS NOT NULL THEN
        v_checked := django_pgflow.check_seconds('delay', p_delay);
        IF p_run_at IS NOT NULL THEN
            RAISE EXCEPTION 'pgflow: pass run_at or delay, not both'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'pgflow: max_attempts must be between 1 and 1000000, got %', coalesce(p_max_attempts::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_checked := django_pgflow.check_seconds('retry_delay', p_retry_delay);
    v_checked := django_pgflow.check_seconds('max_retry_delay', p_max_retry_delay);
    v_checked := django_pgflow.check_seconds('timeout', p_timeout, false);
    v_checked := django_pgflow.check_key('unique_key', p_unique_key);
    v_checked := django_pgflow.check_key('lock_key', p_lock_key);
    RETURN p_queue;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_job(text, text, jsonb, jsonb, integer, timestamptz, float8, integer, float8, float8, float8, text, text) IS
'Returns the queue name, or raises invalid_parameter_value naming the first of enqueue()''s arguments that is missing, out of range, unreadable (json_problem) or too large: a job that passes cannot break a later claim, retry or lease, nor the worker that reads it.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_job(text,text,jsonb,jsonb,integer,timestamp with time zone,double precision,integer,double precision,double precision,double precision,text,text) FROM PUBLIC;
