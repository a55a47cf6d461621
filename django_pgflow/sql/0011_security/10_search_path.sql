-- Every function of the schema keeps the search_path it captured at migrate
-- time, with pg_temp appended. Left implicit, pg_temp is searched FIRST for
-- tables: a session could then shadow pgflow_flow (say) with a temporary table
-- of its own and feed it to the SECURITY DEFINER entry points below, which run
-- with the owner's rights. Listed last, it can shadow nothing.
-- A later CREATE OR REPLACE of any of these functions resets this: restate it
-- (tests/test_grants.py checks every function of the schema).
DO $$
DECLARE
    v_function regprocedure;
    v_path text;
BEGIN
    FOR v_function, v_path IN
        SELECT p.oid::regprocedure, substr(c.setting, length('search_path=') + 1)
        FROM pg_proc p
        CROSS JOIN LATERAL unnest(p.proconfig) AS c(setting)
        WHERE p.pronamespace = 'django_pgflow'::regnamespace
          AND c.setting LIKE 'search_path=%'
          AND c.setting NOT LIKE '%pg\_temp%'
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %s, pg_temp', v_function, v_path);
    END LOOP;
END;
$$;
