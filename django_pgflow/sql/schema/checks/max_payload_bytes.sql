CREATE OR REPLACE FUNCTION django_pgflow.max_payload_bytes()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path FROM CURRENT
AS $$
    SELECT coalesce((SELECT c.max_payload_bytes FROM pgflow_config c WHERE c.id = 1), 1048576);
$$;

COMMENT ON FUNCTION django_pgflow.max_payload_bytes() IS
'The payload size limit in bytes of JSON text: PGFLOW["MAX_PAYLOAD_BYTES"] as sync_limits last stored it (1 MiB until then).';

REVOKE EXECUTE ON FUNCTION django_pgflow.max_payload_bytes() FROM PUBLIC;
