"""The roofline cache: one JSON file per (device fingerprint, runtime, threads, sizes).

Files live in ``$FNBENCH_CACHE/rooflines/`` or, without that variable, in
``~/.cache/fnbench/rooflines/``. The key is a digest of what can change a ceiling: the machine
(CPU model, architecture, cores; the GPU for cuda; the board for ``--host``), the package
versions the runtime uses, the runtime, the threads, the kernel sizes and this method's version.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from fnbench.history import cache_root

SCHEMA = "fnbench.roofline/1"
#: Bumped when the kernels, sizes or protocol change: older entries are then not reused.
METHOD_VERSION = 1


def cache_dir() -> Path:
    return cache_root() / "rooflines"


def cache_key(identity: Mapping[str, Any]) -> str:
    """A digest of ``identity`` (fingerprint, device, runtime, threads, sizes, host)."""
    text = json.dumps({**identity, "method": METHOD_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_path(identity: Mapping[str, Any]) -> Path:
    name = f"{identity['device']}-{identity['runtime']}-t{identity['threads']}"
    return cache_dir() / f"{name}-{cache_key(identity)}.json"


def load(identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cached ceilings of ``identity``, or None (missing, unreadable or another key)."""
    path = cache_path(identity)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA \
            or data.get("key") != cache_key(identity):
        return None
    return data


def save(ceilings: Mapping[str, Any], identity: Mapping[str, Any]) -> Path:
    """Write ``ceilings`` atomically; OSError when the cache folder is not writable."""
    path = cache_path(identity)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(ceilings, indent=1) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
