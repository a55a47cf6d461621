CREATE OR REPLACE FUNCTION django_pgflow.backoff(p_failures integer, p_base float8, p_cap float8)
RETURNS interval
LANGUAGE sql VOLATILE
SET search_path FROM CURRENT
AS $$
    -- Exponential backoff with "equal jitter": half the delay is fixed, half is
    -- random, so retries of jobs that failed together spread out.
    SELECT make_interval(secs => d / 2 + random() * d / 2)
    FROM (SELECT least(p_cap, p_base * power(2, greatest(p_failures - 1, 0))) AS d) AS delay;
$$;

COMMENT ON FUNCTION django_pgflow.backoff(integer, float8, float8) IS
'Delay before retry number p_failures: min(cap, base * 2^(failures-1)), with equal jitter.';

REVOKE EXECUTE ON FUNCTION django_pgflow.backoff(integer,double precision,double precision) FROM PUBLIC;
