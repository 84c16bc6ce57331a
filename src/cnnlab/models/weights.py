"""Pretrained weights as torchvision describes them: a ``WeightsEnum`` per model of ``Weights`` entries.

A ``Weights`` entry names its file (``url``: here a file inside the package, so nothing is
downloaded), the preprocessing the model was trained with (``transforms()``) and ``meta``
(categories, accuracy, license, parameter count, how it was made). Builders take
``weights=`` as an entry, its name (``"MNIST5K"``, ``"DEFAULT"``, ``"LeNet5_Weights.MNIST5K"``,
any case) or None.

Example:
    >>> from cnnlab.models import LeNet5_Weights
    >>> w = LeNet5_Weights.DEFAULT
    >>> w is LeNet5_Weights.MNIST5K, w.meta["accuracy"]["mnist5k-test"]["acc@1"]
    (True, 98.9)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Callable

from cnnlab.suggest import did_you_mean

__all__ = ["Weights", "WeightsEnum", "no_weights"]


@dataclass(frozen=True)
class Weights:
    """One set of pretrained weights: its file, its preprocessing and what is known about it."""

    url: str
    transforms: Callable[[], Callable]
    meta: dict[str, Any] = field(default_factory=dict)


class WeightsEnum(enum.Enum):
    """Base class of each model's weights, as ``torchvision.models.WeightsEnum``."""

    @classmethod
    def verify(cls, obj: Any) -> "WeightsEnum | None":
        """The entry that ``obj`` names (an entry, its name in any case, ``'Cls.NAME'``), or None for None."""
        if obj is None or isinstance(obj, cls):
            return obj
        if not isinstance(obj, str):
            raise TypeError(f"weights: expected None, a {cls.__name__} entry or its name (got {type(obj).__name__})")
        name = obj.rpartition(".")[2] if obj.startswith(cls.__name__ + ".") else obj
        by_lower = {k.lower(): v for k, v in cls.__members__.items()}
        if name.lower() not in by_lower:
            raise ValueError(f"weights: {obj!r} is not one of {cls.__name__}'s: "
                             f"{', '.join(cls.__members__)}{did_you_mean(name, cls.__members__)}")
        return by_lower[name.lower()]

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def meta(self) -> dict[str, Any]:
        return self.value.meta

    def transforms(self) -> Callable:
        """The preprocessing the weights expect, as a callable on one image."""
        return self.value.transforms()

    def get_state_dict(self, progress: bool = False, check_hash: bool = False) -> dict:
        """The weights as ``{name: array}``, read from the package (torchvision downloads them)."""
        from cnnlab.io import load_safetensors

        return load_safetensors(files("cnnlab").joinpath(self.url))

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


def no_weights(model: str) -> ValueError:
    """The one-line error for a model that ships without pretrained weights."""
    return ValueError(f"{model}: cnnlab ships no pretrained weights for {model}; if you have torchvision's file, "
                      f"convert it with `cnnlab convert {model}.pth {model}.safetensors` and load it with "
                      f"model.load_state_dict(cnnlab.load('{model}.safetensors'))")
