CREATE OR REPLACE FUNCTION django_pgflow.register_worker(
    p_hostname text, p_pid integer, p_queues jsonb, p_concurrency integer
)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_id bigint;
    v_secret text;
BEGIN
    -- The admin and pgflow_status read these rows back: refuse what they
    -- could not show (a queue list that is not one, a 5,000-digit number).
    IF p_hostname IS NULL OR p_hostname = '' OR length(p_hostname) > 255 THEN
        RAISE EXCEPTION 'pgflow: a worker''s hostname must be 1 to 255 characters, got %', coalesce(length(p_hostname)::text || ' characters', 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_pid IS NULL OR p_pid < 0 THEN
        RAISE EXCEPTION 'pgflow: a worker''s pid must be a number of at least 0, got %', coalesce(p_pid::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_concurrency IS NULL OR p_concurrency NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'pgflow: a worker''s concurrency must be from 1 to 10000, got %', coalesce(p_concurrency::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(p_queues) IS DISTINCT FROM 'array' OR jsonb_array_length(p_queues) > 1000
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_queues) q WHERE jsonb_typeof(q) <> 'string') THEN
        RAISE EXCEPTION 'pgflow: a worker''s queues must be a JSON array of at most 1000 queue names ([] for all), got %', left(coalesce(p_queues::text, 'NULL'), 80)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_queue_name(q) FROM jsonb_array_elements_text(p_queues) q;
    -- Only a hash is kept: the worker role reads this table.
    v_secret := nullif(current_setting('pgflow.worker_secret', true), '');
    INSERT INTO pgflow_worker (
        hostname, pid, queues, concurrency, state, started_at, last_heartbeat, secret_hash
    )
    VALUES (
        p_hostname, p_pid, p_queues, p_concurrency, 'running', now(), now(),
        sha256(convert_to(v_secret, 'UTF8'))
    )
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;

COMMENT ON FUNCTION django_pgflow.register_worker(text, integer, jsonb, integer) IS
'Registers a starting worker process and returns its id. Refuses (invalid_parameter_value) an empty hostname, a negative pid, a concurrency outside 1..10000 and queues that are not a JSON array of queue names. Keeps the SHA-256 of the session''s pgflow.worker_secret, if set: the sessions that set the same secret speak for the worker (speaks_for).';

REVOKE EXECUTE ON FUNCTION django_pgflow.register_worker(text,integer,jsonb,integer) FROM PUBLIC;
