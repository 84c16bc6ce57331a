"""Pictures of what a CNN computes, drawn from real computations (Pillow, PNG and GIF out).

- ``grids``: the filters of a conv layer (``filters``, ``model_filters``, before and after
  training: ``checkpoint_filters``) and the activation maps of every layer for one image
  (``activations``).
- ``animate``: convolution and transposed-convolution animations in the style of
  conv_arithmetic (``conv_animation``: GIF and frame strip).
- ``matrix``: the dense matrix of a small convolution, coloured by shared weight.
- ``training``: training curves, confusion matrix, misclassified digits; the report the
  training command writes next to its checkpoint (``write_training_report``).
- ``tour``: the whole lecture, computed and drawn, as one HTML page (``cnnlab tour``).

Every function returns a ``Picture`` (pixels and the box of each panel) or an
``Animation``; ``.save(path)`` writes it atomically. Nothing below ``cnnlab.viz`` draws.
"""

from cnnlab.viz.animate import MAX_FRAMES, Animation, conv_animation
from cnnlab.viz.canvas import Picture, colorize
from cnnlab.viz.grids import activations, checkpoint_filters, conv_layers, filters, model_filters, record_activations
from cnnlab.viz.matrix import conv_matrix_picture
from cnnlab.viz.training import confusion, curves, misclassified, report_checkpoint, write_training_report

__all__ = [
    "MAX_FRAMES", "Animation", "Picture", "activations", "checkpoint_filters", "colorize", "confusion", "conv_animation",
    "conv_layers",
    "conv_matrix_picture", "curves", "filters", "misclassified", "model_filters", "record_activations",
    "report_checkpoint", "write_training_report",
]
