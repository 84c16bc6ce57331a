"""`nn.init.no_init`: modules built for counting draw no random numbers and hold no memory for large weights."""

from __future__ import annotations

import threading

import numpy as np

from cnnlab import nn
from cnnlab.nn.init import no_init


def test_large_weights_take_no_memory_and_small_ones_stay_writable():
    with no_init():
        big = nn.Linear(4096, 1024)  # 16 MB of weights
        small = nn.Conv2d(3, 6, 5)
    assert big.weight.shape == (1024, 4096) and big.weight.numpy().strides == (0, 0)
    assert not big.weight.numpy().any() and not big.weight.numpy().flags.writeable
    assert small.weight.numpy().flags.writeable and small.weight.shape == (6, 3, 5, 5)
    assert sum(p.numpy().size for p in big.parameters()) == 1024 * 4096 + 1024
    after = nn.Linear(4096, 1024, generator=0)  # outside the block: initialised as always
    assert after.weight.numpy().strides != (0, 0) and np.abs(after.weight.numpy()).max() > 0


def test_only_the_thread_that_asked_skips_initialisation():
    seen = {}

    def other():
        seen["layer"] = nn.Linear(64, 8, generator=0)

    with no_init():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert np.abs(seen["layer"].weight.numpy()).max() > 0
