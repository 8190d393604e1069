"""The one exception type of the curator: its message is a single line meant for the user."""


class CuratorError(Exception):
    """A user-facing failure (bad workspace, missing weights, bad argument); one-line message."""
