"""Frame pixels for the models: decode from the blob store, shrink, and hand over as tensors.

A 16-bit (thermal) frame reaches the models as its display image (`Frame.image_name`: white-hot,
the sequence's smoothed percentile gain, labeling.footage.thermal) on three equal channels, as a
grey picture would.

Decoding runs in a small thread pool (Pillow releases the GIL while it decodes and resizes), so
the next batch is decoded while the model runs on the current one (`prefetched`).
"""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from labeling.footage import blobstore


def decode(name: str, longest: int) -> tuple[np.ndarray, float]:
    """(H×W×3 uint8 array with its longest side at most `longest`, scale applied)."""
    with blobstore.open_blob(name) as fh:
        data = fh.read()
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (longest, longest))  # JPEG: decode at a reduced size straight away
        img = img.convert("RGB")
        scale = 1.0
        side = max(img.size)
        if side > longest:
            scale = longest / side
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
        return np.array(img), scale  # a writable copy: torch refuses read-only buffers


def to_tensor(pixels: np.ndarray):
    import torch

    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def prefetched(names: Sequence[str], longest: int, batch_size: int,
               pool: ThreadPoolExecutor | None = None) -> Iterable[list[tuple[np.ndarray, float]]]:
    """Decoded batches in order; batch k+1 is decoding while the caller works on batch k."""
    own = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")
    try:
        pending = None
        for chunk in batches(list(names), batch_size):
            futures = [pool.submit(decode, name, longest) for name in chunk]
            if pending is not None:
                yield [f.result() for f in pending]
            pending = futures
        if pending is not None:
            yield [f.result() for f in pending]
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
