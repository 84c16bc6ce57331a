"""Datasets, the DataLoader and image transforms.

- ``mnist5k(split)``: the embedded 5,000 MNIST digits, 4,000 train / 1,000 test (offline).
- ``MNIST(root, train)``: the full MNIST or Fashion-MNIST from the standard IDX files;
  ``read_idx`` reads any IDX file.
- ``ImageFolder(root)``: your own images, one subfolder per class.
- ``ArrayDataset``, ``TensorDataset``, ``Subset``, ``DataLoader``: batching, seeded
  shuffling, exact resume (``DataLoader.set_epoch``).
- ``cnnlab.data.transforms``: per-image transforms and batched augmentation.

Example:
    >>> from cnnlab.data import DataLoader, mnist5k
    >>> images, labels = next(iter(DataLoader(mnist5k("train"), batch_size=64, shuffle=True, seed=0)))
    >>> images.shape, labels.shape
    ((64, 1, 28, 28), (64,))
"""

from cnnlab.data import transforms
from cnnlab.data.folder import ImageFolder
from cnnlab.data.loader import ArrayDataset, DataLoader, Dataset, Subset, TensorDataset, as_arrays, collate, fetch
from cnnlab.data.mnist import MNIST, mnist5k, read_idx, stratified_split

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "ImageFolder", "MNIST", "Subset", "TensorDataset",
           "as_arrays", "collate", "fetch", "mnist5k", "read_idx", "stratified_split", "transforms"]
