CREATE OR REPLACE FUNCTION django_pgflow.check_batch(
    p_options jsonb, p_option integer[], p_args jsonb, p_kwargs jsonb, p_metadata jsonb
)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_count integer := cardinality(p_option);
    v_max_bytes integer := django_pgflow.max_payload_bytes();
    v_ord bigint;
    v_big boolean;
    v_odd boolean;
    v_item record;
BEGIN
    IF jsonb_typeof(p_options) IS DISTINCT FROM 'array' OR jsonb_typeof(p_args) IS DISTINCT FROM 'array'
       OR jsonb_typeof(coalesce(p_kwargs, '[]')) <> 'array'
       OR jsonb_typeof(coalesce(p_metadata, '[]')) <> 'array' THEN
        RAISE EXCEPTION 'pgflow: enqueue_batch takes JSON arrays of options, args, kwargs and metadata'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(v_count, 0) <> jsonb_array_length(p_args)
       OR v_count <> coalesce(jsonb_array_length(p_kwargs), v_count)
       OR v_count <> coalesce(jsonb_array_length(p_metadata), v_count) THEN
        RAISE EXCEPTION 'pgflow: enqueue_batch needs one option index, args, kwargs and metadata per job'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT o INTO v_ord FROM unnest(p_option) WITH ORDINALITY AS u(g, o)
    WHERE g IS NULL OR g NOT BETWEEN 0 AND jsonb_array_length(p_options) - 1 ORDER BY o LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pgflow: enqueue_batch job %: no options at index %', v_ord, p_option[v_ord]
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Jobs differ in their payloads: checked set-based, each job's types,
    -- and its sizes and values only when the whole arrays say one may be
    -- wrong; then the first wrong job is checked alone, to name it.
    v_big := octet_length(p_args::text) + octet_length(coalesce(p_kwargs, '[]')::text) > v_max_bytes
          OR octet_length(coalesce(p_metadata, '[]')::text) > 65536;
    v_odd := jsonb_path_exists(jsonb_build_array(p_args, p_kwargs, p_metadata), 'strict $.**{103 to last}')
          OR jsonb_path_exists(jsonb_build_array(p_args, p_kwargs, p_metadata),
                 'strict $.** ? (@.type() == "number" && (@ > 1.7976931348623157e308 || @ < -1.7976931348623157e308))');
    SELECT i.o, i.args, i.kwargs, i.metadata INTO v_item
    FROM ROWS FROM (jsonb_array_elements(p_args), jsonb_array_elements(p_kwargs),
                    jsonb_array_elements(p_metadata)) WITH ORDINALITY AS i(args, kwargs, metadata, o)
    WHERE jsonb_typeof(i.args) <> 'array' OR jsonb_typeof(coalesce(i.kwargs, '{}')) <> 'object'
       OR jsonb_typeof(coalesce(i.metadata, 'null')) NOT IN ('object', 'null')
       OR (v_big AND (octet_length(i.args::text) + octet_length(coalesce(i.kwargs, '{}')::text) > v_max_bytes
                      OR octet_length(i.metadata::text) > 65536))
       OR (v_odd AND (django_pgflow.json_problem(i.args) IS NOT NULL
                      OR django_pgflow.json_problem(i.kwargs) IS NOT NULL
                      OR django_pgflow.json_problem(i.metadata) IS NOT NULL))
    ORDER BY i.o LIMIT 1;
    IF FOUND THEN
        BEGIN
            PERFORM django_pgflow.check_job(
                'default', 'x', v_item.args, coalesce(v_item.kwargs, '{}'), 0, NULL, NULL, 1, 0, 0, 1, NULL, NULL);
            PERFORM django_pgflow.check_metadata(v_item.metadata);
        EXCEPTION WHEN invalid_parameter_value THEN
            RAISE EXCEPTION 'pgflow: enqueue_batch job %: %', v_item.o, regexp_replace(SQLERRM, '^pgflow: ', '')
                USING ERRCODE = 'invalid_parameter_value';
        END;
    END IF;
    -- Options: checked in full once per group, named by the first job using it.
    PERFORM django_pgflow.check_job_json(
        (p_options->g.g) - 'args' - 'kwargs' - 'metadata' || '{"args": [], "kwargs": {}}', g.o)
    FROM (SELECT u.g, min(u.o) AS o FROM unnest(p_option) WITH ORDINALITY AS u(g, o) GROUP BY u.g) g
    ORDER BY g.o;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_batch(jsonb, integer[], jsonb, jsonb, jsonb) IS
'Raises invalid_parameter_value, naming the first job that is wrong, unless enqueue_batch()''s arguments hold one valid job each: arrays of matching length, option indexes within p_options, args arrays, kwargs and metadata objects that json_problem() accepts within max_payload_bytes() (metadata: 65536 bytes; the first wrong one checked by check_job() and check_metadata() to say why), and options that check_job_json() accepts.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_batch(jsonb, integer[], jsonb, jsonb, jsonb) FROM PUBLIC;
