CREATE OR REPLACE FUNCTION django_pgflow.check_job_json(p_job jsonb, p_ord bigint)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_key text;
    v_type text;
    v_run_at timestamptz;
    v_problem text;
BEGIN
    IF jsonb_typeof(p_job) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'pgflow: enqueue_many job % must be a JSON object, got %', p_ord, coalesce(jsonb_typeof(p_job), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Types first, so that a cast below cannot fail with a message naming no field.
    FOR v_key, v_type IN
        SELECT k, t FROM (VALUES
            ('queue', 'string'), ('task_name', 'string'), ('unique_key', 'string'),
            ('run_at', 'string'), ('priority', 'number'), ('delay', 'number'),
            ('max_attempts', 'number'), ('retry_delay', 'number'),
            ('max_retry_delay', 'number'), ('timeout', 'number'), ('lock_key', 'string'),
            ('resources', 'object')
        ) AS f(k, t)
    LOOP
        IF jsonb_typeof(p_job->v_key) NOT IN (v_type, 'null') THEN
            RAISE EXCEPTION 'pgflow: enqueue_many job %: % must be a JSON %, got %', p_ord, v_key, v_type, jsonb_typeof(p_job->v_key)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    -- Numbers a cast below could not take (1e400): refused, named, not overflowed.
    v_problem := django_pgflow.json_problem(p_job - 'args' - 'kwargs');
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'pgflow: enqueue_many job % %', p_ord, v_problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF scale((p_job->>'priority')::numeric) > 0 OR scale((p_job->>'max_attempts')::numeric) > 0 THEN
        RAISE EXCEPTION 'pgflow: enqueue_many job %: priority and max_attempts must be whole numbers (1, not 1.0)', p_ord
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF abs((p_job->>'priority')::numeric) > 32768 OR abs((p_job->>'max_attempts')::numeric) > 1000000 THEN
        RAISE EXCEPTION 'pgflow: enqueue_many job %: priority must be between -32768 and 32767, max_attempts between 1 and 1000000', p_ord
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(p_job->'run_at') = 'string' THEN
        BEGIN
            v_run_at := (p_job->>'run_at')::timestamptz;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_parameter_value THEN
            RAISE EXCEPTION 'pgflow: enqueue_many job %: run_at % is not a timestamp', p_ord, quote_literal(p_job->>'run_at')
                USING ERRCODE = 'invalid_parameter_value';
        END;
    END IF;
    BEGIN
        PERFORM django_pgflow.check_possible(django_pgflow.check_resources(p_job->'resources'));
        RETURN django_pgflow.check_job(
            p_job->>'queue', p_job->>'task_name',
            coalesce(p_job->'args', '[]'), coalesce(p_job->'kwargs', '{}'),
            coalesce((p_job->>'priority')::integer, 0), v_run_at, (p_job->>'delay')::float8,
            coalesce((p_job->>'max_attempts')::integer, 3),
            coalesce((p_job->>'retry_delay')::float8, 1),
            coalesce((p_job->>'max_retry_delay')::float8, 3600),
            coalesce((p_job->>'timeout')::float8, 300), p_job->>'unique_key', p_job->>'lock_key'
        );
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE EXCEPTION 'pgflow: enqueue_many job %: %', p_ord, regexp_replace(SQLERRM, '^pgflow: ', '')
            USING ERRCODE = 'invalid_parameter_value';
    END;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_job_json(jsonb, bigint) IS
'Returns the queue of one enqueue_many item (p_ord: its 1-based position), or raises invalid_parameter_value naming the item and its first wrongly typed, out-of-range or unreadable field, or resources that could never be given.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_job_json(jsonb,bigint) FROM PUBLIC;
