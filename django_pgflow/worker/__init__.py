"""The worker: ``runworkers`` claims jobs, runs them in threads, reports back."""
