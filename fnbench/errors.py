"""The error types the CLI turns into exit codes."""

from __future__ import annotations

import signal


class UsageError(Exception):
    """Bad usage or bad input: the CLI prints the message on one line and exits with code 2.

    The message names the problem and the fix.
    """


def printable(text: object) -> str:
    """``text`` with line breaks, terminal escapes and other invisible controls (bidi overrides
    too) written as escapes (``\\n``, ``\\x1b``, ``\\u202e``): a string from a run file can
    then neither add a line nor drive the terminal."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM while measuring: the run is saved as interrupted, exit 128 + signal.

    A KeyboardInterrupt, so that every path that lets Ctrl-C through lets it through too.
    """

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(self.signal_name)
