"""The one exception type for mistakes a user can fix.

The CLI prints a UserError as a single line and exits with status 2; anything else is a bug and keeps its
traceback. Messages name the problem and the fix.
"""

EXIT_USER_ERROR = 2


class UserError(Exception):
  """Bad input: a path, a config value, a prompt. The message says how to fix it."""
