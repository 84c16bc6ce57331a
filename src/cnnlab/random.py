"""Random number generators with torch's interface: ``Generator``, ``manual_seed`` and the default generator.

Every random draw of cnnlab (``rand*``, ``nn.init``, dropout, model builders, ``DataLoader``
shuffling, random transforms) takes a ``generator``: a ``cnnlab.Generator``, a
``np.random.Generator`` or an int seed. Where none is given it draws from the default
generator, as torch's functions do; ``manual_seed(s)`` reseeds it, so a seeded script is
reproducible. Like torch's, the default generator starts from a fixed seed
(67280421310721), so even an unseeded script repeats itself from one run to the next.

The numbers differ from torch's (NumPy's PCG64 against torch's Mersenne Twister): only
the semantics (shapes, dtypes, ranges, defaults) are the same.

Example:
    >>> import cnnlab
    >>> _ = cnnlab.manual_seed(0); a = cnnlab.rand(3)
    >>> _ = cnnlab.manual_seed(0); b = cnnlab.rand(3)
    >>> a.tolist() == b.tolist()
    True
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from typing import Any, Iterator

import numpy as np

__all__ = ["Generator", "default_generator", "get_rng_state", "initial_seed", "manual_seed", "rng", "seed",
           "set_rng_state"]

DEFAULT_SEED = 67280421310721  # torch's default_rng_seed_val


def _check_seed(op: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: seed must be an int (got {type(value).__name__})")
    if not -2**63 <= value < 2**64:
        raise ValueError(f"{op}: seed must lie in [-2**63, 2**64) (got {value})")
    return int(value) % 2**64  # torch maps negative seeds to their 64-bit two's complement too


class Generator:
    """A random number generator with ``torch.Generator``'s methods, over NumPy's PCG64.

    Args:
        device: ``'cpu'`` (the only device cnnlab runs on).

    Attributes:
        numpy: the ``np.random.Generator`` it draws from.

    Example:
        >>> g = Generator().manual_seed(42)
        >>> g.initial_seed()
        42
    """

    def __init__(self, device: Any = "cpu") -> None:
        from cnnlab.devices import device as _device

        _device(device).check("Generator")
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed; returns the generator, as torch's."""
        self._seed = _check_seed("manual_seed", seed)
        self.numpy = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from the OS's entropy; returns the new seed."""
        self.manual_seed(secrets.randbits(63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    @property
    def device(self):
        from cnnlab.devices import device as _device

        return _device("cpu")

    def get_state(self) -> dict:
        """The state as a JSON-serialisable dict (torch returns a ByteTensor)."""
        return {"seed": self._seed, "bit_generator": self.numpy.bit_generator.state}

    def set_state(self, state: dict) -> "Generator":
        self._seed = int(state["seed"])
        self.numpy.bit_generator.state = state["bit_generator"]
        return self

    def __repr__(self) -> str:
        return f"<cnnlab.Generator seed={self._seed}>"


default_generator = Generator()
_local = threading.local()  # a per-thread override: the DataLoader's per-batch generator


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, as ``torch.manual_seed``; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the OS's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def rng(generator: Any = None, op: str = "generator") -> np.random.Generator:
    """The ``np.random.Generator`` to draw from: the one given, a fresh one for an int seed,
    else this thread's current one (the default generator unless a ``DataLoader`` batch is
    being made)."""
    if generator is None:
        return getattr(_local, "current", None) or default_generator.numpy
    if isinstance(generator, Generator):
        return generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(_check_seed(op, generator))
    raise TypeError(f"{op}: generator must be a cnnlab.Generator, a numpy.random.Generator, an int seed or None "
                    f"(got {type(generator).__name__})")


@contextlib.contextmanager
def using(generator: np.random.Generator) -> Iterator[None]:
    """Make ``generator`` this thread's current one inside the block (what ``rng(None)`` returns)."""
    prev = getattr(_local, "current", None)
    _local.current = generator
    try:
        yield
    finally:
        _local.current = prev
