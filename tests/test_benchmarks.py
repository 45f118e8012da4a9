"""The scripts in benchmarks/, run as a user runs them (tiny options)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

TINY = ["--layers", "1", "--quick", "--ops", "conv"]


def stability(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "stability.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_stability_with_one_repeat_prints_the_medians_and_says_why_no_cov():
    result = stability("--repeats", "1", "--", "--sizes", "16x8x8", *TINY)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("conv3x3-16x8x8")]
    assert row.split()[2] == "–" and float(row.split()[1]) > 0
    assert "needs at least 2 successful runs" in result.stdout


def test_stability_skips_error_records_and_lists_them():
    result = stability("--repeats", "2", "--", "--sizes", "16x8x8,100000x1000x1000", *TINY)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("conv3x3-16x8x8")]
    assert len(row.split()) == 5  # case, mean, CoV, and the median of each of the 2 runs
    assert "CoV of medians: median" in result.stdout
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 2 and all("conv3x3-100000x1000x1000-L1" in s for s in skipped)
    assert "MemoryBudgetError" in skipped[0]
