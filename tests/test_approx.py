"""fnbench approx (the paper's Table 2) on generated images and a random-weight ResNet-50: the
fits work and behave sensibly; they are not compared with the paper's values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision
from PIL import Image

from conftest import assert_usage_error, run_cli
from fnbench.approx import (ApproxSettings, paper_table2, parse_ratio, run_table2,
                            split_images)
from fnbench.errors import UsageError
from fnbench.report.approx import APPROXIMATIONS, table2_note
from fnbench.published import paper_table

IMAGES = 36
#: A small, fast Table 2: 64x64 images (feature maps 16x16 down to 2x2), a few epochs.
SMALL = ("--train", "16", "--test", "8", "--size", "64", "--epochs", "3", "--batch", "4",
         "--threads", "1")


def write_images(folder: Path, count: int, seed: int = 0) -> None:
    """Structured RGB images (waves, gradients, checkerboards, plus noise) of varied sizes, half
    PNG and half JPEG, in nested folders, with a file that is not an image beside them."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        height, width = 70 + 7 * (index % 5), 64 + 5 * (index % 7)
        y, x = np.mgrid[0:height, 0:width].astype(np.float64)
        period = 3 + index % 9
        channels = [np.sin(x / period + index), np.cos(y / (period + 2)),
                    np.sign(np.sin(x / 4) * np.sin(y / (3 + index % 4))) * 0.5 + x / width - 0.5]
        image = (np.stack(channels, -1) + 1) * 110 + rng.normal(0, 25, (height, width, 3))
        sub = folder / f"class{index % 3}" / ("deep" if index % 4 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        suffix = ".png" if index % 2 else ".JPG"
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(
            sub / f"img{index:03d}{suffix}", format="PNG" if suffix == ".png" else "JPEG")
    (folder / "README.txt").write_text("not an image\n")


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    write_images(folder, IMAGES)
    return folder


@pytest.fixture(scope="module")
def resnet(tmp_path_factory) -> Path:
    """A random-weight torchvision ResNet-50 saved as a state dict."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet50.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    return path


def test_table2_fits_fall_and_order_sensibly(resnet, image_dir, tmp_path):
    out = tmp_path / "table2"
    result = run_cli("approx", "--weights", str(resnet), "--images", str(image_dir), *SMALL,
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads((out / "table2.json").read_text())
    stages = data["stages"]

    # the paper's setting: conv2 of each stage's first block (stride 2 in stages 2-4)
    assert [s["layer"] for s in stages] == [f"layer{i}.0.conv2" for i in (1, 2, 3, 4)]
    assert [s["stride"] for s in stages] == [1, 2, 2, 2]
    assert [s["channels"] for s in stages] == [64, 128, 256, 512]
    assert [s["output_shape"] for s in stages] == [[64, 16, 16], [128, 8, 8], [256, 4, 4],
                                                   [512, 2, 2]]
    # the draw: 16 + 8 distinct images of the folder, none of them the text file
    assert len(data["train_images"]) == 16 and len(data["test_images"]) == 8
    assert not set(data["train_images"]) & set(data["test_images"])
    assert all((image_dir / name).is_file() and not name.endswith(".txt")
               for name in data["train_images"] + data["test_images"])

    published = paper_table("table2_approximation").set_index("stage")
    for stage in stages:
        c = stage["channels"]
        fits = stage["approximations"]
        # the paper's configurations: DWConv, GConv with 16 groups, PConv with r = 1/4, each
        # followed by a c -> c PWConv without bias (GConv and PConv then have equal FLOPs)
        assert fits["dwconv_pwconv"]["params"] == 9 * c + c * c
        assert fits["gconv_pwconv"]["params"] == 9 * c * c // 16 + c * c
        assert fits["pconv_pwconv"]["params"] == 9 * (c // 4) ** 2 + c * c
        assert stage["partial_channels"] == c // 4
        zero = stage["zero_mse"]["test"]
        for name, fit in fits.items():
            losses = fit["train_loss_per_epoch"]
            assert len(losses) == 3
            assert losses[-1] < losses[0], (stage["stage"], name, losses)
            assert fit["train_mse"] < fit["initial_train_mse"], (stage["stage"], name)
            assert math.isfinite(fit["test_mse"]) and 0 < fit["test_mse"] < zero, \
                (stage["stage"], name, fit["test_mse"], zero)
            assert fit["published_test_mse"] == published.loc[stage["stage"], f"{name}_mse"]
        # GConv (16 groups) can express any DWConv: with more capacity it fits at least as well
        assert fits["gconv_pwconv"]["train_mse"] <= fits["dwconv_pwconv"]["train_mse"], \
            stage["stage"]

    # measured and published side by side, in the terminal table and in table2.md
    markdown = (out / "table2.md").read_text()
    first = stages[0]["approximations"]
    for text in (result.stdout, markdown):
        assert "Table 2: PConv + PWConv approximating a ResNet-50 Conv 3x3" in text
        assert "0.0089" in text and "0.0123" in text  # published stage 1 and mean
        assert f"{first['pconv_pwconv']['test_mse']:.4g}" in text
        assert "images at 64x64, not 224x224" in text
    assert "| stage | layer | output | stride | DWConv+PWConv | DWConv paper |" in markdown
    assert f"wrote {out / 'table2.json'}" in result.stderr


@pytest.fixture
def one_thread():
    """One torch thread (as the CLI tests use): a shared 2-core machine runs 2 slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_same_seed_same_fit(one_thread):
    from fnbench.approx.fit import StageMaps, _fit_stage

    g = torch.Generator().manual_seed(3)
    maps = StageMaps(2, "layer2.0.conv2", 2, torch.randn(6, 128, 8, 8, generator=g),
                     torch.randn(6, 128, 4, 4, generator=g), torch.randn(2, 128, 8, 8, generator=g),
                     torch.randn(2, 128, 4, 4, generator=g))
    settings = ApproxSettings(epochs=2, batch=4, seed=5)
    published = {name: 0.01 for name in APPROXIMATIONS}
    first = _fit_stage(maps, settings, published, lambda text: None)
    assert _fit_stage(maps, settings, published, lambda text: None) == first
    other = _fit_stage(maps, ApproxSettings(epochs=2, batch=4, seed=6), published,
                       lambda text: None)
    assert other["approximations"] != first["approximations"]
    assert first["output_shape"] == [128, 4, 4] and first["stride"] == 2


def test_split_is_seeded_and_disjoint(image_dir):
    images = sorted(image_dir.rglob("*.png"))
    train, test = split_images(image_dir, images, 10, 5, seed=1)
    assert len(train) == 10 and len(test) == 5 and not set(train) & set(test)
    assert split_images(image_dir, images, 10, 5, seed=1) == (train, test)
    assert split_images(image_dir, images, 10, 5, seed=2) != (train, test)


def test_paper_gets_a_note_without_inputs():
    note = paper_table2(None, None)
    assert isinstance(note, str) and note.startswith("Table 2 needs --weights")
    assert "missing: --weights, --images" in note
    assert table2_note("r.pth", None).endswith("missing: --images")
    assert table2_note("r.pth", "images/") is None
    assert list(APPROXIMATIONS) == ["dwconv_pwconv", "gconv_pwconv", "pconv_pwconv"]


def test_cli_defaults_are_the_library_defaults():
    import typer

    from fnbench.cli import app

    command = typer.main.get_command(app).commands["approx"]
    defaults = {p.name: p.default for p in command.params}
    library = ApproxSettings()
    for name in ("train", "test", "epochs", "batch", "lr", "seed", "size", "block", "groups",
                 "threads"):
        assert defaults[name] == getattr(library, name), name
    assert parse_ratio(defaults["ratio"]) == library.ratio


@pytest.mark.parametrize("changes, fragment", [
    ({"train": 0}, "--train 0 must be at least 1"),
    ({"lr": float("nan")}, "--lr nan"),
    ({"size": 16}, "--size 16 is too small"),
    ({"block": 3}, "--block 3 must lie between 0 and 2"),
    ({"groups": 3}, "--groups 3 must divide"),
    ({"seed": -1}, "--seed -1"),
])
def test_settings_out_of_range(changes, fragment):
    with pytest.raises(UsageError, match=fragment.replace("-", r"\-")):
        ApproxSettings(**changes).check()


def test_without_inputs_says_what_table2_needs(tmp_path):
    result = run_cli("approx", "-o", str(tmp_path / "out"))
    assert_usage_error(result, "Table 2 needs --weights", "--images DIR",
                       "missing: --weights, --images")
    assert not (tmp_path / "out").exists()


def test_unreadable_image_is_named(resnet, tmp_path):
    write_images(tmp_path, 3)
    (tmp_path / "class0" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(UsageError, match=r"cannot read image .*broken\.jpg"):
        run_table2(resnet, tmp_path, ApproxSettings(train=3, test=1, size=32, threads=1))


@pytest.mark.parametrize("case", ["missing weights", "not a resnet50", "empty folder",
                                  "too few images", "out is a file"])
def test_bad_input_is_one_line_and_writes_nothing(case, resnet, image_dir, tmp_path):
    weights, images, extra = resnet, image_dir, list(SMALL)
    out = tmp_path / "out"
    if case == "missing weights":
        weights, fragments = tmp_path / "nope.pth", ["checkpoint not found", "nope.pth"]
    elif case == "not a resnet50":
        weights = tmp_path / "linear.pth"
        torch.save(nn.Linear(4, 2).state_dict(), weights)
        fragments = ["is not a ResNet-50 checkpoint", "missing keys", "unexpected keys"]
    elif case == "empty folder":
        images = tmp_path / "empty"
        (images / "sub").mkdir(parents=True)
        (images / "sub" / "notes.txt").write_text("no images here\n")
        fragments = ["holds no .jpg/.png images"]
    elif case == "too few images":
        extra += ["--train", "30", "--test", "10"]
        fragments = [f"holds {IMAGES} .jpg/.png image(s) but --train 30 --test 10 need 40"]
    else:
        out.write_text("a file\n")
        fragments = ["is a file, not a folder"]
    result = run_cli("approx", "--weights", str(weights), "--images", str(images), *extra,
                     "-o", str(out))
    assert_usage_error(result, *fragments)
    if case == "out is a file":
        assert out.read_text() == "a file\n"
    else:
        assert not out.exists()
