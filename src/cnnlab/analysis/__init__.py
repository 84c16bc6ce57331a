"""The lecture's arithmetic and theory, computed: output sizes, model summaries, and the priors.

- ``shapes``: ``output_size`` with its working (``explain``), ``same_padding`` the lecture's
  way, and the W x H x D walk of a layer chain (``walk``).
- ``summary(model, input_shape)``: per-layer shapes, parameters, MACs/FLOPs, receptive
  fields and memory of any ``Module``, traced from a real forward pass. (The name is the
  function; its module is ``cnnlab.analysis.summary`` in ``sys.modules``, imported as
  ``from cnnlab.analysis.summary import ...``.)
- ``theory``: convolution as a matrix, sparse interaction and parameter sharing,
  equivariance, and pooling's local invariance, measured.

Example:
    >>> from cnnlab.analysis import explain, summary, walk
    >>> explain(7, 3, stride=2).formula
    'O = (N - F + 2P)/S + 1 = (7 - 3 + 0)/2 + 1 = 3'
    >>> walk((32, 32, 3), "conv5x5x6,relu,pool2")[-1].text
    '14x14x6'
"""

from cnnlab.analysis import theory
from cnnlab.analysis.shapes import explain, explain_same_padding, output_size, parse_layers, parse_size, same_padding, walk
from cnnlab.analysis.summary import Summary, summary
from cnnlab.analysis.theory import conv_matrix

__all__ = ["Summary", "conv_matrix", "explain", "explain_same_padding", "output_size", "parse_layers", "parse_size",
           "same_padding", "summary", "theory", "walk"]
