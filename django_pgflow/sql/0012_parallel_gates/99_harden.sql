-- As in 0011: every function of the schema keeps the search_path it captured
-- at migrate time with pg_temp appended, those created above included.
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

-- And, as in 0011, PUBLIC executes none of them. 0011's ALTER DEFAULT
-- PRIVILEGES IN SCHEMA cannot do this for new functions: a per-schema default
-- only adds to the global one, which grants EXECUTE to PUBLIC. Every
-- migration that creates a function restates this.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA django_pgflow FROM PUBLIC;
