"""Users' own images: one subfolder per class, as torchvision's ``ImageFolder``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from cnnlab.data.transforms import resize
from cnnlab.imageio import MAX_PIXELS, read_image

__all__ = ["EXTENSIONS", "ImageFolder"]

EXTENSIONS = (".png", ".jpg", ".jpeg")


class ImageFolder:
    """Images in ``root/<class name>/*.png|jpg|jpeg``; class indices follow sorted class names.

    Images are decoded on access, by ``cnnlab.imageio.read_image``. For fast training
    read them all once: ``ArrayDataset(*as_arrays(folder), classes=folder.classes)``.

    Args:
        root: the folder of class folders (hidden ones, starting with '.', are skipped).
        mode: ``'L'`` (grayscale, 1 channel) or ``'RGB'`` (3 channels).
        size: ``(height, width)`` or an int for a square: resize every image to it
            (bilinear, antialiased; needed to batch images of different sizes).
        transform: optional callable on each ``(C, H, W)`` float32 image.
        max_pixels: refuse larger images (decompression-bomb guard).

    Attributes:
        classes: the sorted class names; ``class_to_idx``: name -> index;
        samples: ``(path, class index)`` pairs, sorted by class then file name;
        targets: the class index of every sample (as torchvision).

    Items are ``(image float32 (C, H, W) in [0, 1], label int)``.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: no class folders, or a class folder without PNG/JPEG images (on
            construction); an unreadable image (on access, naming the file).

    Example:
        >>> import tempfile, os
        >>> from cnnlab.imageio import write_image
        >>> root = tempfile.mkdtemp()
        >>> for name in ("cat", "dog"):
        ...     os.mkdir(os.path.join(root, name))
        ...     write_image(os.path.join(root, name, "a.png"), np.zeros((5, 4)))
        >>> ds = ImageFolder(root, size=8)
        >>> ds.classes, len(ds), ds[1][0].shape, ds[1][1]
        (['cat', 'dog'], 2, (1, 8, 8), 1)
    """

    def __init__(self, root: str | os.PathLike, mode: str = "L", size: int | Sequence[int] | None = None,
                 transform: Callable | None = None, max_pixels: int = MAX_PIXELS) -> None:
        if mode not in ("L", "RGB"):
            raise ValueError(f"ImageFolder: mode must be 'L' or 'RGB' (got {mode!r})")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder: {os.fspath(root)!r} is not a folder")
        if size is not None:
            resize(np.zeros((1, 1, 1), np.float32), size)  # validates size
        self.mode, self.size, self.transform, self.max_pixels = mode, size, transform, max_pixels
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            loose = [p.name for p in self.root.iterdir() if p.suffix.lower() in EXTENSIONS]
            hint = f" (it holds {len(loose)} images directly: put them in one subfolder per class)" if loose else ""
            raise ValueError(f"ImageFolder: {os.fspath(root)!r} has no class subfolders{hint}")
        self.classes = [p.name for p in folders]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.samples: list[tuple[Path, int]] = []
        for i, folder in enumerate(folders):
            files = sorted(p for p in folder.iterdir()
                           if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))
            if not files:
                raise ValueError(f"ImageFolder: class folder {os.fspath(folder)!r} has no PNG/JPEG images "
                                 f"(expected files ending in {', '.join(EXTENSIONS)})")
            self.samples += [(p, i) for p in files]
        self.targets = [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[index]
        try:
            image = read_image(path, mode=self.mode, max_pixels=self.max_pixels)
        except ValueError as e:
            raise ValueError(f"ImageFolder: {e}") from None
        x = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)  # (C, H, W)
        if self.size is not None:
            x = resize(x, self.size)
        if self.transform is not None:
            x = self.transform(x)
        return x, label

    def __repr__(self) -> str:
        return f"ImageFolder({os.fspath(self.root)!r}, {len(self)} images, {len(self.classes)} classes)"
