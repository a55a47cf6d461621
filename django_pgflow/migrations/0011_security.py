from django.db import migrations

from django_pgflow.sql import RunSQLFolder

# Undoes 0011 but the search_path hardening, which is harmless either way.
REVERSE_SQL = """
ALTER DEFAULT PRIVILEGES IN SCHEMA django_pgflow GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA django_pgflow TO PUBLIC;
ALTER FUNCTION django_pgflow.enqueue(
    text, text, jsonb, jsonb, integer, timestamptz, float8, integer, float8, float8, float8, text,
    jsonb, text
) SECURITY INVOKER;
ALTER FUNCTION django_pgflow.enqueue_many(jsonb) SECURITY INVOKER;
ALTER FUNCTION django_pgflow.start_flow(text, jsonb, text) SECURITY INVOKER;
ALTER FUNCTION django_pgflow.cancel(bigint) SECURITY INVOKER;
ALTER FUNCTION django_pgflow.retry(bigint, float8) SECURITY INVOKER;
ALTER FUNCTION django_pgflow.cancel_run(bigint) SECURITY INVOKER;
ALTER FUNCTION django_pgflow.resume_run(bigint) SECURITY INVOKER;
"""


class Migration(migrations.Migration):
    dependencies = [("django_pgflow", "0010_input_checks")]

    operations = [RunSQLFolder("0011_security", reverse_sql=REVERSE_SQL)]
