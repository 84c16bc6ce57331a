"""The ops of cnnlab, named and called as ``torch.nn.functional`` (import it as ``F``).

Every op is a ``Function`` with its forward and backward side by side, in the module
of its family: ``conv``, ``pool``, ``activation``, ``loss``, ``norm``, ``padding``.
"""

from cnnlab.functional import basic
from cnnlab.functional.conv import conv2d, conv_transpose2d
from cnnlab.functional.padding import pad
from cnnlab.functional.sizes import output_size, same_padding

__all__ = ["basic", "conv2d", "conv_transpose2d", "output_size", "pad", "same_padding"]
