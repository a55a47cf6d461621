"""Tasks: ``@task``, batches, periodic schedules and the context a running job sees."""
