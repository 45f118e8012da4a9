"""The paper's Table 2: how well DWConv, GConv and PConv, each followed by a PWConv, approximate
the regular 3x3 convs of a pre-trained ResNet-50.

For each stage of ResNet-50 the input and output feature maps of one 3x3 conv (``conv2`` of a
bottleneck block, the first block by default) are taken on local images; each approximation
is fitted to them on the training images (MSE to the conv's own output, Adam), and its MSE on
held-out images is what Table 2 reports, beside the published value. It runs on the CPU.

This module checks the inputs and writes the results without importing torch, so that bad
input is refused at once; :mod:`fnbench.approx.fit` does the work.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from fnbench.errors import UsageError
from fnbench.report.approx import table2_note, table2_table
from fnbench.report.table import TextTable, render_markdown
from fnbench.results import RunFileError, write_atomic

#: ResNet-50's four stages (torchvision's layer1..layer4): blocks, and the channels of the
#: 3x3 conv in each block (its bottleneck width).
DEPTHS = {1: 3, 2: 4, 3: 6, 4: 3}
WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Names of the result files written into --out.
JSON_NAME, MARKDOWN_NAME = "table2.json", "table2.md"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ApproxSettings:
    """How Table 2 is reproduced here (the options of ``fnbench approx``)."""

    train: int = 128
    test: int = 32
    epochs: int = 20
    batch: int = 8
    lr: float = 3e-3
    seed: int = 0
    size: int = 224
    block: int = 0
    groups: int = 16
    ratio: Fraction = Fraction(1, 4)
    threads: int | None = None

    def check(self) -> None:
        """A UsageError naming the first option out of range."""
        for option, value in (("--train", self.train), ("--test", self.test),
                              ("--epochs", self.epochs), ("--batch", self.batch)):
            if value < 1:
                raise UsageError(f"{option} {value} must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr {self.lr:g} must be a positive finite learning rate, e.g. "
                             "--lr 3e-3")
        if not 0 <= self.seed <= 2**64 - 1:
            raise UsageError(f"--seed {self.seed} must lie between 0 and {2**64 - 1} (torch "
                             "seeds are 64-bit unsigned)")
        if self.size < 32:
            raise UsageError(f"--size {self.size} is too small: ResNet-50 downsamples 32x, so "
                             "images need at least 32 pixels a side (default 224)")
        blocks = min(DEPTHS.values())
        if not 0 <= self.block < blocks:
            raise UsageError(f"--block {self.block} must lie between 0 and {blocks - 1}: every "
                             f"ResNet-50 stage has at least {blocks} blocks")
        if self.groups < 1 or WIDTHS[1] % self.groups:
            raise UsageError(f"--groups {self.groups} must divide every stage's channels "
                             f"({', '.join(map(str, WIDTHS.values()))}): use a divisor of "
                             f"{WIDTHS[1]}, e.g. --groups 16 (the paper's Table 1 GConv)")
        if not 0 < self.ratio <= 1:
            raise UsageError(f"--ratio {self.ratio} is outside (0, 1]: PConv convolves a "
                             "fraction of the channels, e.g. --ratio 1/4")
        if self.threads is not None and not 1 <= self.threads <= _usable_cpus():
            raise UsageError(f"--threads {self.threads} must lie between 1 and the "
                             f"{_usable_cpus()} CPU(s) this process may run on")


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_ratio(text: str) -> Fraction:
    """'1/4' or '0.25' -> Fraction(1, 4); the ratio must lie in (0, 1]."""
    try:
        value = Fraction(text.strip()).limit_denominator(1 << 16)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"malformed ratio {text!r}: give a fraction or decimal in (0, 1], "
                         "e.g. --ratio 1/4") from None
    if not 0 < value <= 1:
        raise UsageError(f"--ratio {text} is outside (0, 1]: PConv convolves a fraction of the "
                         "channels, e.g. --ratio 1/4")
    return value


def list_images(folder: str | Path) -> list[Path]:
    """The .jpg/.jpeg/.png files under ``folder`` (recursively), in a fixed order."""
    folder = Path(folder)
    if not folder.exists():
        raise UsageError(f"image folder not found: {folder}; pass --images DIR, a folder of "
                         f".jpg/.png images")
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: pass --images DIR, a folder of .jpg/.png "
                         f"images (searched recursively)")
    found = [path for path in folder.rglob("*")
             if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()]
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def split_images(folder: Path, images: list[Path], train: int, test: int,
                 seed: int) -> tuple[list[Path], list[Path]]:
    """``train`` and ``test`` distinct images drawn at random (by ``seed``) from ``images``."""
    need = train + test
    if not images:
        raise UsageError(f"{folder} holds no .jpg/.png images (searched recursively): add "
                         f"at least {need} (--train {train} + --test {test})")
    if len(images) < need:
        raise UsageError(f"{folder} holds {len(images)} .jpg/.png image(s) but --train {train} "
                         f"--test {test} need {need}: add images or lower --train/--test")
    chosen = [images[i] for i in random.Random(seed).sample(range(len(images)), need)]
    return chosen[:train], chosen[train:]


def check_out(out: Path | None) -> None:
    """Refuse, before any work, an --out that cannot be a folder."""
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder: name a folder to receive "
                         f"{JSON_NAME} and {MARKDOWN_NAME}")


@dataclass(frozen=True)
class Inputs:
    """Checked inputs: the checkpoint's path and the images drawn for training and test."""

    weights: Path
    folder: Path
    train: list[Path]
    test: list[Path]


def check_inputs(weights: str | Path, images: str | Path,
                 settings: ApproxSettings) -> Inputs:
    """Everything that can be checked without torch: the settings, the image folder and its
    split, that the checkpoint is a file. The checkpoint's content and each image are checked
    when read, still before any fitting."""
    settings.check()
    weights, folder = Path(weights), Path(images)
    if weights.is_dir():
        raise UsageError(f"{weights} is a directory, not a checkpoint file: pass the file "
                         f"itself (a .pth, .pt or .safetensors file)")
    if not weights.is_file():
        raise UsageError(f"checkpoint not found: {weights}; pass the path of a local .pth, .pt "
                         f"or .safetensors file")
    train, test = split_images(folder, list_images(folder), settings.train, settings.test,
                               settings.seed)
    return Inputs(weights, folder, train, test)


def run_table2(weights: str | Path, images: str | Path,
               settings: ApproxSettings = ApproxSettings(),
               progress: Progress | None = None) -> dict[str, Any]:
    """Reproduce Table 2 on local weights and images: the result as a JSON-ready dict.

    Every input is checked (settings, folder, split, checkpoint, each image) before any
    fitting; a problem is a one-line UsageError.
    """
    from fnbench.approx.fit import table2_result

    return table2_result(check_inputs(weights, images, settings), settings, progress)


def write_table2(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``table2.json`` and ``table2.md`` into the folder ``out`` (made if missing), each
    written atomically; an OS failure is a RunFileError."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunFileError(out, error) from None
    markdown, data = out / MARKDOWN_NAME, out / JSON_NAME
    write_atomic(markdown, render_markdown(table2_table(result)))
    write_atomic(data, json.dumps(result, indent=1) + "\n")
    return data, markdown


def paper_table2(weights: str | Path | None, images: str | Path | None,
                 settings: ApproxSettings = ApproxSettings(),
                 progress: Progress | None = None) -> TextTable | str:
    """For ``fnbench paper``: the one line saying what Table 2 needs when the weights or the
    images are missing (no torch imported), else the table measured on them beside the
    published values (render it with fnbench.report.table's render_rich or
    render_markdown)."""
    note = table2_note(weights, images)
    if note is not None:
        return note
    return table2_table(run_table2(weights, images, settings, progress))
