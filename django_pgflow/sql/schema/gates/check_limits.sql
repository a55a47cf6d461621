CREATE OR REPLACE FUNCTION django_pgflow.check_limits(p_resources jsonb, p_queues jsonb, p_settings jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_key text;
    v_value jsonb;
BEGIN
    IF jsonb_typeof(p_resources) IS DISTINCT FROM 'object' OR jsonb_typeof(p_queues) IS DISTINCT FROM 'object'
       OR jsonb_typeof(coalesce(p_settings, '{}')) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'pgflow: sync_limits takes three JSON objects (resources, queue limits, settings)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_key, v_value IN SELECT key, value FROM jsonb_each(p_resources) LOOP
        PERFORM django_pgflow.check_queue_name(v_key);
        PERFORM django_pgflow.check_whole('capacity of resource ' || v_key, v_value, 0, 10000);
    END LOOP;
    FOR v_key, v_value IN SELECT key, value FROM jsonb_each(p_queues) LOOP
        PERFORM django_pgflow.check_queue_name(v_key);
        IF jsonb_typeof(v_value) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'pgflow: the limits of queue % must be a JSON object', v_key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM django_pgflow.check_whole('concurrency of queue ' || v_key, v_value->'concurrency', 1, 10000, true),
                django_pgflow.check_whole('rate limit count of queue ' || v_key, v_value->'rate_count', 1, 1000000, true);
        IF (v_value->'rate_count' IS NULL) <> (v_value->'rate_period' IS NULL)
           OR jsonb_typeof(v_value->'rate_period') NOT IN ('number')
           OR (v_value->>'rate_period')::numeric NOT BETWEEN 0.001 AND 31622400 THEN
            RAISE EXCEPTION 'pgflow: queue % needs a rate_period between 0.001 and 31622400 seconds with its rate_count, got %',
                    v_key, coalesce(v_value->>'rate_period', 'none')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    PERFORM django_pgflow.check_whole('max_payload_bytes', p_settings->'max_payload_bytes', 1, 67108864, true);
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_limits(jsonb, jsonb, jsonb) IS
'Raises invalid_parameter_value naming the first bad entry of sync_limits()''s arguments: resource capacities 0-10000, queue concurrency 1-10000, rate limits of 1-1000000 starts per 0.001-31622400 seconds, max_payload_bytes 1-67108864 (64 MiB).';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_limits(jsonb,jsonb,jsonb) FROM PUBLIC;
