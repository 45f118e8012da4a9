"""Run files: atomic writes, never overwriting, loading and the flat CSV view."""

from __future__ import annotations

import json
import os
import socket

import pandas as pd
import pytest

from fnbench.errors import UsageError
from fnbench.records import Record, Run
from fnbench.results import (COMMON_COLUMNS, OPS_COLUMNS, SCHEMA, RunFileError, RunWriter,
                             create_run_dir, load_run, records_frame, write_atomic)


def record(name: str, **extra) -> dict:
    base = {"name": name, "suite": "ops", "family": "operator", "device": "cpu",
            "runtime": "torch", "mode": "latency", "batch": 1, "threads": 1, "flops": 10.0,
            "params": 3, "memory_bytes": 40.0, "latency_ms": 1.0, "latency_p90_ms": 1.1,
            "throughput": 1000.0, "achieved_flops": 1e4, "status": "ok",
            "uncounted_ops": {"aten::foo": 2},
            "meta": {"op": "conv", "channels": 8, "height": 4, "width": 4, "layers": 1,
                     "ratio": None, "conv_channels": None, "groups": 1, "impl": None}}
    base.update(extra)
    return base


def typed(name: str, **extra) -> Record:
    """``record(name)`` as a typed Record with a key."""
    data = record(name, **extra)
    return Record.from_dict({**data, "key": f"ops|{name}", "workload_hash": None,
                             "spec": {"suite": "ops"}, "input_shape": [8, 4, 4]})


def new_run(planned=(), **extra) -> Run:
    return Run(suite="ops", device="cpu", runtime="torch", threads=1, started="2026-12-01",
               fnbench_version="0", planned=tuple({"key": f"ops|{n}", "name": n, "mode": m}
                                                  for n, m in planned),
               pid=os.getpid(), hostname=socket.gethostname(), **extra)


def test_run_dirs_are_never_reused(tmp_path):
    first = create_run_dir(tmp_path, "ops", "cpu", "torch")
    second = create_run_dir(tmp_path, "ops", "cpu", "torch")
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.startswith("ops-cpu-torch-")


def test_unwritable_parent_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError) as info:
        create_run_dir(blocker / "sub", "ops", "cpu", "torch")
    assert "--out" in str(info.value)
    assert blocker.read_text() == "x"


def test_writer_keeps_run_json_current_and_writes_all_files(tmp_path):
    writer = RunWriter(tmp_path, new_run(planned=[("b", "latency"), ("a", "latency")]))
    assert load_run(tmp_path)["status"] == "running"
    writer.add(typed("a"))
    on_disk = load_run(tmp_path)
    assert [r["name"] for r in on_disk["records"]] == ["a"]
    writer.add(typed("b", latency_ms=float("nan")))
    writer.finish("interrupted", "# table\n")
    run = load_run(tmp_path / "run.json")
    assert run["status"] == "interrupted" and run["finished"] and run["schema"] == SCHEMA
    assert [r["name"] for r in run["records"]] == ["b", "a"]  # in the planned order
    assert run["records"][0]["latency_ms"] is None  # NaN is not JSON
    assert (tmp_path / "results.md").read_text() == "# table\n"
    frame = pd.read_csv(tmp_path / "results.csv")
    assert list(frame.columns[9:16]) == ["flops_macs", "params", "memory_bytes", "latency_ms",
                                         "latency_p90_ms", "throughput_samples_per_s",
                                         "achieved_flops_macs_per_s"]  # units in the names
    assert frame.loc[0, "flops_macs"] == 10.0 and frame.loc[0, "achieved_flops_macs_per_s"] == 1e4
    assert frame.loc[0, "throughput_samples_per_s"] == 1000.0
    assert set(OPS_COLUMNS) <= set(frame.columns)
    assert frame.loc[1, "uncounted_ops"] == "aten::foo=2"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_finish_rejects_unknown_status(tmp_path):
    with pytest.raises(ValueError):
        RunWriter(tmp_path, new_run()).finish("done", "")


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / "run.json"
    write_atomic(target, "old")
    with pytest.raises(TypeError):
        write_atomic(target, 123)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["run.json"]


@pytest.mark.parametrize("content,fragment", [
    (None, "no run at"),
    ("{not json", "not a readable fnbench run"),
    (json.dumps({"schema": "other"}), "not an fnbench run"),
    (json.dumps([1, 2]), "not an fnbench run"),
])
def test_load_run_rejects_what_is_not_a_run(tmp_path, content, fragment):
    if content is not None:
        (tmp_path / "run.json").write_text(content)
    with pytest.raises(UsageError) as info:
        load_run(tmp_path)
    assert fragment in str(info.value)


def test_records_frame_of_an_empty_run_has_the_columns():
    assert list(records_frame({"records": []}).columns[:len(COMMON_COLUMNS)]) == COMMON_COLUMNS


def test_writer_records_its_plan_and_process(tmp_path):
    writer = RunWriter(tmp_path, new_run(planned=[("a", "latency"), ("b", "latency")]))
    run = load_run(tmp_path)
    assert [(p["name"], p["mode"]) for p in run["planned"]] == [("a", "latency"),
                                                                ("b", "latency")]
    assert run["pid"] == os.getpid() and run["hostname"] == socket.gethostname()
    writer.add(typed("a"))
    writer.finish("interrupted", lambda r: f"{r.status} {len(r.records)}\n",
                  interrupted_by="SIGTERM")
    run = load_run(tmp_path)
    assert run["status"] == "interrupted" and run["interrupted_by"] == "SIGTERM"
    assert (tmp_path / "results.md").read_text() == "interrupted 1\n"


def test_fail_marks_the_run_failed(tmp_path):
    writer = RunWriter(tmp_path, new_run())
    assert writer.fail("cannot write results.md: Is a directory")
    run = load_run(tmp_path)
    assert run["status"] == "failed" and run["failure"].startswith("cannot write results.md")


def test_a_write_the_system_refuses_is_a_run_file_error(tmp_path):
    with pytest.raises(RunFileError) as info:
        write_atomic(tmp_path / "gone" / "run.json", "{}")
    assert str(info.value).startswith(f"cannot write {tmp_path / 'gone' / 'run.json'} (")
    assert str(info.value).endswith("check that folder or choose another --out")
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("change,fragment", [
    ({"records": ["x"]}, "record 0 is a str, not an object"),
    ({"records": [{**record("a"), "batch": 1.5}]}, "record 0 has 'batch' = a float, not int"),
    ({"records": [{**record("a"), "converged": "yes"}]}, "'converged' = a str, not bool"),
    ({"records": [{**record("a"), "flops": True}]}, "'flops' = a bool, not int or float"),
    ({"status": "done"}, "has status 'done'"),
    ({"pid": "42"}, "has 'pid' = a str, not int"),
])
def test_load_run_names_what_is_damaged(tmp_path, change, fragment):
    run = {"schema": SCHEMA, "status": "complete", "suite": "ops", "records": [record("a")]}
    (tmp_path / "run.json").write_text(json.dumps({**run, **change}))
    with pytest.raises(UsageError) as info:
        load_run(tmp_path)
    assert fragment in str(info.value) and "is damaged" in str(info.value)
