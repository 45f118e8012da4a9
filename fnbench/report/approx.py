"""The paper's Table 2 (PConv + PWConv approximating a ResNet-50 3x3 conv) as a table, from the
saved result alone: no torch here, so the table can be made again on any machine."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fnbench.published import CITATION
from fnbench.report.table import TextTable

#: The three approximations of the paper's Table 2, in its column order, with their labels.
APPROXIMATIONS = {"dwconv_pwconv": "DWConv+PWConv", "gconv_pwconv": "GConv+PWConv",
                  "pconv_pwconv": "PConv+PWConv"}
#: What Table 2 needs that fnbench cannot ship: the pre-trained network and the images.
TABLE2_NEEDS = ("Table 2 needs --weights RESNET50.pth (a local torchvision or timm ResNet-50 "
                "state dict, ImageNet pre-trained for the paper's setting) and --images DIR (a "
                "folder of .jpg/.png images, searched recursively)")


def table2_note(weights: str | Path | None, images: str | Path | None) -> str | None:
    """The one line saying what Table 2 still needs, or None when both inputs are given."""
    missing = [name for name, value in (("--weights", weights), ("--images", images))
               if value is None]
    if not missing:
        return None
    return f"{TABLE2_NEEDS}; missing: {', '.join(missing)}"


def fmt_mse(value: Any) -> str:
    """An MSE with four significant digits, or an en dash when there is none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.4g}"


def fmt_published(value: Any) -> str:
    """A published MSE with the paper's four decimals."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.4f}"


def _mean(values: list[Any]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(float(v) for v in values) / len(values)


def table2_table(result: dict[str, Any]) -> TextTable:
    """Measured test MSE per stage beside the published one, a mean row, and what was run."""
    settings = result["settings"]
    columns = ["stage", "layer", "output", "stride"]
    for name, label in APPROXIMATIONS.items():
        columns += [label, f"{label.split('+')[0]} paper"]
    columns.append("zero MSE")
    table = TextTable(title="Table 2: PConv + PWConv approximating a ResNet-50 Conv 3x3 "
                            "(test MSE)", columns=columns,
                      kinds=["number", "text"] + ["number"] * (len(columns) - 2))
    for stage in result["stages"]:
        row = [str(stage["stage"]), stage["layer"],
               "x".join(str(n) for n in stage["output_shape"]), str(stage["stride"])]
        for name in APPROXIMATIONS:
            fit = stage["approximations"][name]
            row += [fmt_mse(fit["test_mse"]), fmt_published(fit.get("published_test_mse"))]
        row.append(fmt_mse(stage["zero_mse"]["test"]))
        table.rows.append(row)
    mean = ["mean", "", "", ""]
    for name in APPROXIMATIONS:
        fits = [stage["approximations"][name] for stage in result["stages"]]
        mean += [fmt_mse(_mean([f["test_mse"] for f in fits])),
                 fmt_published(_mean([f.get("published_test_mse") for f in fits]))]
    mean.append(fmt_mse(_mean([stage["zero_mse"]["test"] for stage in result["stages"]])))
    table.rows.append(mean)

    size = settings["size"]
    table.notes += [
        f"test MSE measured here on {settings['test']} held-out image(s) after fitting on "
        f"{settings['train']} (the conv's own output, before its BatchNorm, as target); "
        f"*paper* columns are Table 2 of {CITATION} as published, not measured here",
        f"each spatial operator is followed by a 1x1 PWConv, c -> c, no bias: DWConv 3x3; "
        f"GConv 3x3 with {settings['groups']} groups; PConv 3x3 on cp = floor(c x "
        f"{settings['ratio_text']}) channels, the rest untouched",
        f"fitted with {settings['optimizer']} (lr {settings['lr']:g}, cosine decay), "
        f"{settings['epochs']} epoch(s), batch {settings['batch']} image(s), seed "
        f"{settings['seed']}; *zero MSE* is the MSE of predicting 0 (the output's mean "
        f"square); the *mean* row averages the four stages",
    ]
    if any(stage["stride"] != 1 for stage in result["stages"]):
        table.notes.append("stride 2 (the first block of stages 2-4): every approximation "
                           "strides its 3x3 operator; PConv's untouched channels are "
                           "subsampled by 2 (no paper setting covers this)")
    if size != 224:
        table.notes.append(f"images at {size}x{size}, not 224x224 (ImageNet's usual "
                           f"evaluation size, taken for the paper's): smaller feature maps "
                           f"than those the published values presumably come from")
    table.drop_order = ["stride", "output", "layer", "zero MSE"]
    return table
