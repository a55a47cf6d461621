"""Starting, cancelling and resuming workflow runs from application code."""
