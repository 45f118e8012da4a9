"""The environment fingerprint records what can change a measurement."""

from __future__ import annotations

import os

from fnbench.devices.fingerprint import environment


def test_fingerprint_has_the_machine_and_software(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = environment(threads=2)
    cpu = env["cpu"]
    assert cpu["model"] and cpu["arch"]
    assert cpu["logical_cores"] == os.cpu_count()
    assert cpu["affinity"] == sorted(os.sched_getaffinity(0))
    assert len(env["load_average"]) == 3
    assert env["memory"]["total_bytes"] > 0
    assert env["packages"]["torch"] and env["packages"]["numpy"]
    assert env["threads"] == {"requested": 2, "environment": {"OMP_NUM_THREADS": "3"},
                              "usable_cpus": len(os.sched_getaffinity(0))}
    assert env["fnbench"]["version"]


def test_fingerprint_names_the_commit_when_run_from_a_checkout():
    from pathlib import Path

    import fnbench

    git = environment(1)["fnbench"]["git"]
    if (Path(fnbench.__file__).resolve().parent.parent / ".git").exists():
        assert git is not None and len(git["commit"]) == 40
    else:
        assert git is None
