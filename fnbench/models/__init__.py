"""Model zoo: our FasterNet (T0-L and its ablations), PVT v1 and CycleMLP, and the paper's
baselines from timm and torchvision, behind one registry."""

from fnbench.models.fasternet import fasternet
from fnbench.models.weights import load_weights
from fnbench.models.zoo import REGISTRY, SETS, ModelSpec, create, model_names, spec

__all__ = ["REGISTRY", "SETS", "ModelSpec", "create", "fasternet", "load_weights",
           "model_names", "spec"]
