"""What operators watch: Prometheus metrics and a health check, read from the database."""
