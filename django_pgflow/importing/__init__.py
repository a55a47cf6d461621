"""Bringing the waiting jobs of another queue into django-pgflow (``pgflow_import``)."""
