"""The error types the CLI turns into exit codes."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Iterator


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


_received: list[int] = []  # the signals caught inside interrupts_raise(), newest last
_held_from: list[int] = []  # inside interrupts_held(): how many signals had come before it


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise RunInterrupted inside the block (inside interrupts_held() they
    wait); the old handlers return after."""
    def interrupt(signum: int, frame: Any) -> None:
        _received.append(signum)
        if not _held_from:
            raise RunInterrupted(signum)

    _received.clear()
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _received.clear()
        _held_from.clear()


class Held:
    """What interrupts_held() saw: ``interrupt``, the signal that came inside it (the last
    one), else None."""

    interrupt: RunInterrupted | None = None


@contextmanager
def interrupts_held() -> Iterator[Held]:
    """Inside interrupts_raise(): a signal is not raised inside the block but reported after it
    as the yielded Held's ``interrupt``; for writing a run's or a report's files, which a Ctrl-C
    (or a second one) must not leave half done. Code inside asks signalled_while_held() to cut
    work short."""
    held = Held()
    _held_from.append(len(_received))
    try:
        yield held
    finally:
        if len(_received) > _held_from.pop():
            held.interrupt = RunInterrupted(_received[-1])


def signalled_while_held() -> bool:
    """Whether a signal came inside the innermost interrupts_held()."""
    return bool(_held_from) and len(_received) > _held_from[-1]


def raise_if_interrupted() -> None:
    """RunInterrupted again if a signal came inside interrupts_raise(): for a handler of
    ordinary errors, since a library may turn the interruption into one of those (pybind11
    turns it into ImportError("initialization failed") while a module is imported)."""
    if _received and not _held_from:
        raise RunInterrupted(_received[-1])
