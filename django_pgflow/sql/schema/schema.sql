-- The schema that holds django-pgflow's SQL functions. The tables live beside
-- Django's own (they are created by the model migrations); every function
-- resolves them through the search_path captured at migrate time.
CREATE SCHEMA IF NOT EXISTS django_pgflow;

COMMENT ON SCHEMA django_pgflow IS 'django-pgflow coordination functions: every job state change happens in one of them.';
