"""docs/ci.md's workflow calls fnbench with commands and options that exist."""

from __future__ import annotations

import re

import typer.main
from conftest import REPO

from fnbench.cli import app

WORKFLOW = REPO / "docs" / "ci.md"


def _calls(text: str) -> list[list[str]]:
    """Every ``fnbench ...`` command line of the workflow (continuations joined, the env
    block's variables expanded)."""
    env = dict(re.findall(r"^  ([A-Z_]+): (.+?)\s*(?:#.*)?$", text, re.MULTILINE))
    joined = re.sub(r"\\\n\s*", " ", text)
    calls = []
    for line in joined.splitlines():
        found = re.search(r"(?:^\s*|run: |taskset -c \S+ )fnbench "
                          r"((?:ops|models|compare|dashboard|report|paper)\b.*)", line)
        if not found:
            continue
        words = found.group(1).split("||")[0].split(">")[0]
        for name, value in env.items():
            words = words.replace(f"${name}", value.strip('"'))
        calls.append(words.split())
    return calls


def test_every_fnbench_call_in_docs_ci_uses_real_commands_and_options():
    """A renamed or dropped option breaks the documented workflow: this catches it."""
    calls = _calls(WORKFLOW.read_text(encoding="utf-8"))
    commands = {call[0] for call in calls}
    assert {"ops", "models", "compare", "dashboard"} <= commands, commands
    group = typer.main.get_command(app)
    for call in calls:
        command = group.commands[call[0]]
        known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        used = {word for word in call[1:] if word.startswith("--")}
        assert used <= known, (call, sorted(used - known))
