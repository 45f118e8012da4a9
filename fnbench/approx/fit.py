"""Table 2's work, with torch: the ResNet-50 and the images read, the feature maps taken, the
three approximations fitted and tested (see :mod:`fnbench.approx`)."""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from fnbench import __version__
from fnbench.approx import DEPTHS, ApproxSettings, Inputs, Progress
from fnbench.errors import UsageError
from fnbench.models.weights import _listed, read_state_dict
from fnbench.operators.pconv import partial_channels
from fnbench.report.approx import APPROXIMATIONS
from fnbench.published import CITATION, paper_table
from fnbench.results import _json_safe, utc_stamp

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SCHEMA = "fnbench.approx/1"
_EXTRACT_BATCH = 8  # images per ResNet-50 forward pass when taking the feature maps


def load_images(paths: list[Path], size: int) -> torch.Tensor:
    """The images as ResNet-50 sees them at evaluation: shorter side resized to size x 256/224,
    centre crop size x size, RGB scaled to [0, 1], ImageNet normalisation; (N, 3, size, size)."""
    from PIL import Image
    from torchvision.transforms import functional as TF

    resize = round(size * 256 / 224)
    out = torch.empty(len(paths), 3, size, size)
    for index, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except Exception as error:  # noqa: BLE001 - PIL fails in many ways on a damaged file
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
            raise UsageError(f"cannot read image {path} ({reason}): remove it or replace it "
                             f"with a readable .jpg/.png") from None
        tensor = TF.to_tensor(TF.center_crop(TF.resize(rgb, resize), [size, size]))
        out[index] = TF.normalize(tensor, IMAGENET_MEAN, IMAGENET_STD)
    return out


# -- the network -----------------------------------------------------------------------------

def load_resnet50(path: str | Path) -> nn.Module:
    """torchvision's ResNet-50 (v1.5: the stride of a downsampling block is on its 3x3 conv)
    with the local checkpoint's weights, in eval mode; its classifier is not used, so a
    checkpoint with any head, or none, fits. Anything else is a one-line UsageError."""
    from torchvision.models import resnet50

    state = read_state_dict(path)
    model = resnet50(weights=None)
    model.fc = nn.Identity()
    expected = model.state_dict()
    given = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing = [k for k in expected if k not in given and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in given if k not in expected]
    mismatched = [f"{k} {list(given[k].shape)} vs {list(v.shape)}" for k, v in expected.items()
                  if k in given and given[k].shape != v.shape]
    problems = [f"{what} {_listed(keys)}" for what, keys in
                (("shape mismatches", mismatched), ("missing keys", missing),
                 ("unexpected keys", unexpected)) if keys]
    if problems:
        raise UsageError(f"{path} is not a ResNet-50 checkpoint: {'; '.join(problems)}; pass "
                         f"a torchvision or timm ResNet-50 state dict, e.g. torch.save(torchvis"
                         f"ion.models.resnet50(weights='IMAGENET1K_V1').state_dict(), PATH)")
    model.load_state_dict({**expected, **{k: v.float() for k, v in given.items()}})
    return model.eval()


@dataclass
class StageMaps:
    """One stage's 3x3 conv: where it is, and its input and output on the train and test
    images."""

    stage: int
    layer: str
    stride: int
    train_in: torch.Tensor
    train_out: torch.Tensor
    test_in: torch.Tensor
    test_out: torch.Tensor


def conv_name(stage: int, block: int) -> str:
    return f"layer{stage}.{block}.conv2"


def stage_convs(model: nn.Module, block: int) -> dict[int, nn.Conv2d]:
    """Per stage, the 3x3 conv of block ``block``: ``layer{stage}[block].conv2``."""
    return {stage: getattr(model, f"layer{stage}")[block].conv2 for stage in DEPTHS}


def feature_maps(model: nn.Module, images: torch.Tensor, block: int
                 ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Per stage, the input and output of ``layer{stage}[block].conv2`` on ``images``."""
    captured: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {s: [] for s in DEPTHS}
    hooks = []
    for stage, conv in stage_convs(model, block).items():
        def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor,
                 stage: int = stage) -> None:
            captured[stage].append((inputs[0].detach().clone(), output.detach().clone()))

        hooks.append(conv.register_forward_hook(keep))
    try:
        with torch.no_grad():
            for start in range(0, len(images), _EXTRACT_BATCH):
                model(images[start:start + _EXTRACT_BATCH])
    finally:
        for hook in hooks:
            hook.remove()
    return {stage: (torch.cat([i for i, _ in pairs]), torch.cat([o for _, o in pairs]))
            for stage, pairs in captured.items()}


# -- the approximations ----------------------------------------------------------------------

class StridedPConv(nn.Module):
    """PConv (3x3 on the first cp channels, the rest untouched) at stride 1 or 2; at stride 2
    the untouched channels are subsampled to the convolved channels' grid."""

    def __init__(self, channels: int, ratio: Fraction, stride: int) -> None:
        super().__init__()
        self.channels, self.stride = channels, stride
        self.conv_channels = partial_channels(channels, ratio)
        self.conv = nn.Conv2d(self.conv_channels, self.conv_channels, 3, stride, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cp, s = self.conv_channels, self.stride
        return torch.cat((self.conv(x[:, :cp]), x[:, cp:, ::s, ::s]), dim=1)


def approximation(name: str, channels: int, stride: int, groups: int,
                  ratio: Fraction) -> nn.Module:
    """One of Table 2's approximations: the spatial operator then a 1x1 PWConv, c -> c, no
    bias (as ResNet-50's conv)."""
    if name == "dwconv_pwconv":
        spatial: nn.Module = nn.Conv2d(channels, channels, 3, stride, 1, groups=channels,
                                       bias=False)
    elif name == "gconv_pwconv":
        spatial = nn.Conv2d(channels, channels, 3, stride, 1, groups=groups, bias=False)
    elif name == "pconv_pwconv":
        spatial = StridedPConv(channels, ratio, stride)
    else:
        raise ValueError(f"unknown approximation {name!r}")
    return nn.Sequential(spatial, nn.Conv2d(channels, channels, 1, bias=False))


def approximation_macs(name: str, channels: int, groups: int, ratio: Fraction,
                       out_pixels: int) -> int:
    """MACs per image of an approximation (the 3x3 conv it replaces: 9 c^2 per pixel)."""
    c = channels
    spatial = {"dwconv_pwconv": 9 * c, "gconv_pwconv": 9 * c * c // groups,
               "pconv_pwconv": 9 * partial_channels(c, ratio) ** 2}[name]
    return (spatial + c * c) * out_pixels


@dataclass
class Fit:
    """An approximation fitted to one stage: its losses before, during and after fitting."""

    params: int
    macs: int
    initial_train_mse: float
    train_loss_per_epoch: list[float] = field(default_factory=list)
    train_mse: float = math.nan
    test_mse: float = math.nan


def mse(module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
        batch: int = 32) -> float:
    """Mean squared error over every element, summed in float64 batch by batch."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(inputs), batch):
            error = module(inputs[start:start + batch]) - targets[start:start + batch]
            total += float(error.double().square().sum())
    return total / targets.numel()


def fit(module: nn.Module, maps: StageMaps, settings: ApproxSettings, macs: int,
        progress: Progress | None = None) -> Fit:
    """Adam on the MSE to the conv's output, minibatches of images in a seeded order, the
    learning rate decayed to 0 along a cosine over all steps."""
    result = Fit(params=sum(p.numel() for p in module.parameters()), macs=macs,
                 initial_train_mse=mse(module, maps.train_in, maps.train_out))
    optimiser = torch.optim.Adam(module.parameters(), lr=settings.lr)
    count = len(maps.train_in)
    steps = settings.epochs * math.ceil(count / settings.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    order = torch.Generator().manual_seed(settings.seed)
    for epoch in range(settings.epochs):
        total = 0.0
        for index in torch.randperm(count, generator=order).split(settings.batch):
            loss = F.mse_loss(module(maps.train_in[index]), maps.train_out[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(index)
        result.train_loss_per_epoch.append(total / count)
        if progress:
            progress(f"epoch {epoch + 1}/{settings.epochs}: train MSE {total / count:.4g}")
    result.train_mse = mse(module, maps.train_in, maps.train_out)
    result.test_mse = mse(module, maps.test_in, maps.test_out)
    return result


# -- Table 2 ---------------------------------------------------------------------------------

def _published() -> dict[int, dict[str, float]]:
    table = paper_table("table2_approximation")
    return {int(row.stage): {name: float(getattr(row, f"{name}_mse")) for name in APPROXIMATIONS}
            for row in table.itertuples()}


def _relative(paths: list[Path], folder: Path) -> list[str]:
    return [path.relative_to(folder).as_posix() for path in paths]


def table2_result(inputs: Inputs, settings: ApproxSettings,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Table 2 on checked inputs: read the checkpoint and the images (one-line UsageErrors),
    take the feature maps, fit and test; the result as a JSON-ready dict."""
    say = progress or (lambda text: None)
    say("reading images")
    train_images = load_images(inputs.train, settings.size)
    test_images = load_images(inputs.test, settings.size)
    say("loading ResNet-50")
    model = load_resnet50(inputs.weights)

    previous_threads = torch.get_num_threads()
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    try:
        say("taking feature maps")
        strides = {s: conv.stride[0] for s, conv in stage_convs(model, settings.block).items()}
        train_maps = feature_maps(model, train_images, settings.block)
        test_maps = feature_maps(model, test_images, settings.block)
        del model, train_images, test_images
        published = _published()
        stages = []
        for stage in DEPTHS:
            maps = StageMaps(stage, conv_name(stage, settings.block), strides[stage],
                             *train_maps.pop(stage), *test_maps.pop(stage))
            stages.append(_fit_stage(maps, settings, published[stage], say))
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous_threads)

    return _json_safe({
        "schema": SCHEMA, "table": "table2_approximation", "created": utc_stamp(),
        "fnbench": __version__, "torch": torch.__version__, "command": sys.argv,
        "weights": str(inputs.weights), "images": str(inputs.folder),
        "settings": {**asdict(settings), "ratio": float(settings.ratio),
                     "ratio_text": str(settings.ratio), "threads": threads,
                     "optimizer": "Adam", "schedule": "cosine to 0 over all steps",
                     "loss": "MSE to the conv's output (before its BatchNorm)",
                     "device": "cpu"},
        "published_source": f"{CITATION}, Table 2 (a pre-trained ResNet-50)",
        "train_images": _relative(inputs.train, inputs.folder),
        "test_images": _relative(inputs.test, inputs.folder),
        "stages": stages,
    })


def _fit_stage(maps: StageMaps, settings: ApproxSettings, published: dict[str, float],
               say: Progress) -> dict[str, Any]:
    channels = maps.train_in.shape[1]
    out_pixels = maps.train_out.shape[2] * maps.train_out.shape[3]
    fits = {}
    for name, label in APPROXIMATIONS.items():
        with torch.random.fork_rng(devices=[]):  # the caller's random state is left alone
            torch.manual_seed(settings.seed)  # each fit starts alike, whatever ran before it
            module = approximation(name, channels, maps.stride, settings.groups,
                                   settings.ratio)
        macs = approximation_macs(name, channels, settings.groups, settings.ratio, out_pixels)
        fitted = fit(module, maps, settings, macs,
                     lambda text: say(f"stage {maps.stage} {label}: {text}"))
        fits[name] = {**asdict(fitted), "published_test_mse": published[name]}
    return {
        "stage": maps.stage, "layer": maps.layer, "stride": maps.stride, "channels": channels,
        "input_shape": list(maps.train_in.shape[1:]),
        "output_shape": list(maps.train_out.shape[1:]),
        "conv_macs": 9 * channels * channels * out_pixels,
        "partial_channels": partial_channels(channels, settings.ratio),
        "zero_mse": {"train": float(maps.train_out.double().square().mean()),
                     "test": float(maps.test_out.double().square().mean())},
        "approximations": fits,
    }
