"""ONNX both ways: ``export`` a cnnlab model to a standard ``.onnx`` file, ``load`` one back as a Module.

Both are pure Python over the protobuf classes of the ``onnx`` package (``pip install
'cnnlab[onnx]'``), imported only when called.

``export`` traces one forward pass: every cnnlab ``Function`` the model runs becomes one or
a few ONNX nodes, named after the module that ran it (``features.0/Conv``); parameters
and buffers become initializers under their ``state_dict`` keys. ``load`` rebuilds the
graph from cnnlab's layers and ops, with autograd, so an imported model can be
fine-tuned, summarised and looked inside.

Example:
    >>> import tempfile, os, numpy as np, cnnlab
    >>> from cnnlab import nn, onnx
    >>> model = nn.Sequential(nn.Conv2d(1, 2, 3, generator=0), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3, generator=0))
    >>> x = cnnlab.Tensor(np.ones((2, 1, 4, 4), np.float32))
    >>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    >>> onnx.export(model, x, path)
    >>> back = onnx.load(path)
    >>> np.allclose(back(x).numpy(), model(x).numpy(), atol=1e-6)
    True
"""

from cnnlab.onnx.export import export
from cnnlab.onnx.load import OnnxModule, load

__all__ = ["OnnxModule", "export", "load"]
