-- PostgreSQL lets every role (PUBLIC) execute a new function. Here a role
-- executes what it is granted, nothing more: the SECURITY DEFINER entry points
-- above must not be open to whoever can connect. The migrating role keeps
-- every right as owner; grant the others as docs/guides/security.md shows.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA django_pgflow FROM PUBLIC;
-- The same for functions later migrations create (as this same role).
ALTER DEFAULT PRIVILEGES IN SCHEMA django_pgflow REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
