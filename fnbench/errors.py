"""The error type for bad usage and bad input."""


class UsageError(Exception):
    """Bad usage or bad input: the CLI prints the message on one line and exits with code 2.

    The message names the problem and the fix.
    """
