"""The hostile suite: every SQL entry point, hostile arguments, each role (issue 12)."""
