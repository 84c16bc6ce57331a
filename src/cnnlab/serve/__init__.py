"""``cnnlab serve``: the explorer, an interactive web page over the real engine.

Three pages, every number on them computed by cnnlab on the user's own inputs:

- the convolution playground: a convolution or transposed convolution of up to 32x32,
  step by step, with the output-size formula worked out (``cnnlab.analysis.shapes``);
- the filter lab: the lecture's masks or an edited kernel on a photograph (``cnnlab.filters``);
- the digit lab: a drawn digit classified by a pretrained LeNet-5, with every layer's output.

``api`` computes the answers; ``app`` is the HTTP server (the standard library's, no
framework) that serves them and the plain HTML/CSS/JS pages of ``static/``.

Example:
    >>> from cnnlab.serve import api
    >>> api.conv({"input": 7, "kernel": 3, "stride": 2})["output_size"]
    [3, 3]
"""

from cnnlab.serve.app import is_loopback, make_server

__all__ = ["is_loopback", "make_server"]
