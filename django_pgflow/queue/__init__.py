"""The Python side of the job queue: calls into the SQL functions."""
