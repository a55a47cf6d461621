CREATE OR REPLACE FUNCTION django_pgflow.enqueue_keyed(p_jobs jsonb)
RETURNS TABLE (ord bigint, id bigint)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_item record;
BEGIN
    -- A unique key needs enqueue()'s conflict handling: one job at a time.
    FOR v_item IN
        SELECT e.j, e.o FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(j, o)
        WHERE e.j->>'unique_key' IS NOT NULL ORDER BY e.o
    LOOP
        ord := v_item.o;
        id := (django_pgflow.enqueue(
            v_item.j->>'queue', v_item.j->>'task_name',
            coalesce(v_item.j->'args', '[]'), coalesce(v_item.j->'kwargs', '{}'),
            coalesce((v_item.j->>'priority')::integer, 0), (v_item.j->>'run_at')::timestamptz,
            (v_item.j->>'delay')::float8, coalesce((v_item.j->>'max_attempts')::integer, 3),
            coalesce((v_item.j->>'retry_delay')::float8, 1),
            coalesce((v_item.j->>'max_retry_delay')::float8, 3600),
            coalesce((v_item.j->>'timeout')::float8, 300), v_item.j->>'unique_key',
            v_item.j->'resources', v_item.j->>'lock_key', v_item.j->'metadata'
        )).id;
        RETURN NEXT;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.enqueue_keyed(jsonb) IS
'enqueue_many()''s items that carry a unique key, each through enqueue() (an active job with the key is returned instead): (ord, id) pairs. Items without a key are skipped.';

REVOKE EXECUTE ON FUNCTION django_pgflow.enqueue_keyed(jsonb) FROM PUBLIC;
