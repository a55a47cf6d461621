CREATE OR REPLACE FUNCTION django_pgflow.check_jobs_json(p_jobs jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_item record;
    v_max_bytes integer := django_pgflow.max_payload_bytes();
BEGIN
    IF jsonb_typeof(p_jobs) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'pgflow: enqueue_many takes a JSON array of jobs, got %', jsonb_typeof(p_jobs)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Items differ mostly in args and kwargs: their types are checked
    -- set-based, and the full check runs once per distinct set of the other
    -- fields (a batch of one task: once), not once per item.
    SELECT e.j, e.o INTO v_item
    FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
    WHERE jsonb_typeof(e.j) IS DISTINCT FROM 'object'
       OR jsonb_typeof(coalesce(e.j->'args', '[]')) <> 'array'
       OR jsonb_typeof(coalesce(e.j->'kwargs', '{}')) <> 'object'
    ORDER BY e.o LIMIT 1;
    IF FOUND THEN
        PERFORM django_pgflow.check_job_json(v_item.j, v_item.o);  -- raises, naming it
    END IF;
    -- Payloads: depth and numbers in one pass over the whole array (an item's
    -- args sit two levels below it), sizes item by item; the slow search for
    -- the item to name runs only when something is wrong.
    IF jsonb_path_exists(p_jobs, 'strict $.**{103 to last}')
       OR jsonb_path_exists(p_jobs, 'strict $.** ? (@.type() == "number" && (@ > 1.7976931348623157e308 || @ < -1.7976931348623157e308))')
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_jobs) AS e(j)
                  WHERE octet_length(coalesce(e.j->'args', '[]')::text)
                        + octet_length(coalesce(e.j->'kwargs', '{}')::text) > v_max_bytes) THEN
        SELECT e.j, e.o INTO v_item
        FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
        WHERE django_pgflow.json_problem(coalesce(e.j->'args', '[]')) IS NOT NULL
           OR django_pgflow.json_problem(coalesce(e.j->'kwargs', '{}')) IS NOT NULL
           OR django_pgflow.json_problem(e.j) IS NOT NULL
           OR octet_length(coalesce(e.j->'args', '[]')::text)
              + octet_length(coalesce(e.j->'kwargs', '{}')::text) > v_max_bytes
        ORDER BY e.o LIMIT 1;
        PERFORM django_pgflow.check_job_json(v_item.j, v_item.o);  -- raises, naming it
    END IF;
    -- Metadata differs from job to job, like args: each is checked.
    PERFORM django_pgflow.check_metadata(e.j->'metadata')
    FROM jsonb_array_elements(p_jobs) AS e(j) WHERE e.j ? 'metadata';
    PERFORM django_pgflow.check_job_json(g.j, g.o)
    FROM (
        SELECT DISTINCT ON (e.j - 'args' - 'kwargs' - 'metadata') e.j, e.o
        FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
        ORDER BY e.j - 'args' - 'kwargs' - 'metadata', e.o
    ) g
    ORDER BY g.o;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_jobs_json(jsonb) IS
'Checks every item of an enqueue_many() array as enqueue() checks its arguments (check_job_json), or raises invalid_parameter_value naming the first bad item by its 1-based position.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_jobs_json(jsonb) FROM PUBLIC;
