-- What a gated job held may be what jobs of any queue wait for: wake them all.
PERFORM pg_notify('django_pgflow', '*');
RETURN NULL;
