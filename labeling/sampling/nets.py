"""What the sampler asks of a torchvision model: per-frame class probabilities, an embedding,
and training steps. Works for the registry's architectures (Faster R-CNN and SSDlite detectors,
the MobileNetV3 tag classifier).

Detectors: torchvision's post-processing keeps one label per output box, but an uncertainty
measure needs each box's whole class distribution. A forward hook takes the classification
head's logits (Faster R-CNN: one row per region proposal; SSDlite: one row per anchor), softmaxes
them, and keeps the rows whose object confidence c = 1 − p(background) reaches the detector's own
score threshold (0.05 by default), at most `MAX_BOXES` per frame, most confident first. The
class distribution of a row is its foreground part renormalised
(`strategies.frame_score_from_boxes` does that).

Embeddings: the backbone's last feature map, average-pooled, multiplied by a fixed random
projection (seeded, so every worker projects the same way) to `EMBED_DIM` dimensions and scaled
to unit length — near-duplicate frames get cosine similarity close to 1.
"""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from labeling.sampling import strategies

EMBED_DIM = 64
MAX_BOXES = 100
SCORE_THRESHOLD = 0.05
SUGGESTION_SCORE = 0.25  # the detector's boxes people are shown as suggestions, at this score or above
MAX_SUGGESTIONS = 30


def set_threads() -> int:
    import torch

    n = settings.AERIE_TORCH_THREADS or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() and settings.AERIE_TORCH_DEVICE != "cpu" else "cpu")


_projections: dict[int, np.ndarray] = {}


def project_embedding(features: np.ndarray) -> np.ndarray:
    """(n, d) pooled features -> (n, EMBED_DIM) unit rows, with a fixed seeded projection."""
    d = features.shape[1]
    if d not in _projections:
        rng = np.random.default_rng(20261127 + d)
        _projections[d] = rng.standard_normal((d, EMBED_DIM)).astype(np.float32) / np.sqrt(EMBED_DIM)
    out = features.astype(np.float32) @ _projections[d]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


@dataclass
class FrameOutput:
    embedding: np.ndarray  # (EMBED_DIM,)
    box_probas: np.ndarray | None = None  # detectors: (B, K+1) softmax rows, column 0 = background
    # detectors: the model's own boxes (class index, score, x1, y1, x2, y2 in the input's pixels),
    # best first, at most MAX_SUGGESTIONS above SUGGESTION_SCORE: what people see as suggestions
    detections: list = field(default_factory=list)
    tag_probas: np.ndarray | None = None  # classifier: (T,) independent tag probabilities


def _is_detector(model) -> bool:
    return hasattr(model, "transform") and hasattr(model, "backbone")


class _Capture:
    """Forward hooks that keep the tensors the sampler needs from one forward pass."""

    def __init__(self, model):
        self.handles = []
        self.pooled = None
        self.logits = None
        self.counts = None
        if _is_detector(model):
            self.handles.append(model.backbone.register_forward_hook(self._backbone))
            if hasattr(model, "roi_heads"):  # Faster R-CNN
                self.handles.append(model.roi_heads.register_forward_pre_hook(self._proposals))
                self.handles.append(model.roi_heads.box_predictor.register_forward_hook(self._rcnn_logits))
            else:  # SSD / SSDlite
                self.handles.append(model.head.register_forward_hook(self._ssd_logits))
        else:
            self.handles.append(model.features.register_forward_hook(self._features))

    def _backbone(self, _module, _inputs, output):
        last = list(output.values())[-1] if isinstance(output, dict) else output
        self.pooled = last.mean(dim=(2, 3))

    def _features(self, _module, _inputs, output):
        self.pooled = output.mean(dim=(2, 3))

    def _proposals(self, _module, args):
        self.counts = [len(p) for p in args[1]]

    def _rcnn_logits(self, _module, _inputs, output):
        self.logits = output[0]

    def _ssd_logits(self, _module, _inputs, output):
        self.logits = output["cls_logits"]
        self.counts = [output["cls_logits"].shape[1]] * output["cls_logits"].shape[0]

    def close(self):
        for handle in self.handles:
            handle.remove()


def infer(model, images) -> list[FrameOutput]:
    """Run `model` (eval mode) on a list of CHW float tensors; one FrameOutput per image."""
    import torch

    dev = next(model.parameters()).device
    capture = _Capture(model)
    try:
        with torch.inference_mode():
            batch = [img.to(dev) for img in images]
            if _is_detector(model):
                found = model(batch)
            else:
                logits = model(_stack(batch))
        pooled = capture.pooled.float().cpu().numpy()
        embeddings = project_embedding(pooled)
        if not _is_detector(model):
            probas = torch.sigmoid(logits).float().cpu().numpy()
            return [FrameOutput(embeddings[i], tag_probas=probas[i]) for i in range(len(images))]
        rows = torch.softmax(capture.logits.float().reshape(-1, capture.logits.shape[-1]), dim=-1).cpu().numpy()
        out, start = [], 0
        for i, count in enumerate(capture.counts):
            part = rows[start:start + count]
            start += count
            conf = 1.0 - part[:, 0]
            keep = np.flatnonzero(conf >= SCORE_THRESHOLD)
            keep = keep[np.argsort(-conf[keep], kind="stable")[:MAX_BOXES]]
            out.append(FrameOutput(embeddings[i], box_probas=part[keep], detections=_detections(found[i])))
        return out
    finally:
        capture.close()


def _detections(found: dict) -> list:
    """torchvision's post-processed boxes (labels 1..K; 0 is the background) as plain rows."""
    scores = found["scores"].float().cpu().numpy()
    keep = np.flatnonzero(scores >= SUGGESTION_SCORE)[:MAX_SUGGESTIONS]  # torchvision sorts by score
    boxes, labels = found["boxes"].float().cpu().numpy(), found["labels"].cpu().numpy()
    return [(int(labels[j]) - 1, float(scores[j]), *map(float, boxes[j])) for j in keep if labels[j] >= 1]


def _stack(images, size: int = 224):
    import torch
    import torch.nn.functional as F

    return torch.stack([F.interpolate(img[None], size=(size, size), mode="bilinear", align_corners=False)[0]
                        for img in images])


def detector_score(box_probas: np.ndarray, strategy: str) -> float:
    """Frame score from the kept rows: foreground distribution and object confidence per box."""
    if box_probas is None or len(box_probas) == 0:
        return 0.0
    return strategies.frame_score_from_boxes(box_probas[:, 1:], strategy, box_scores=1.0 - box_probas[:, 0])


def classifier_score(tag_probas: np.ndarray, strategy: str) -> float:
    """Frame score from independent tag probabilities: each tag is a yes/no question; the most
    uncertain tag decides (normalised to [0, 1] like the box term)."""
    if tag_probas is None or len(tag_probas) == 0:
        return 0.0
    p = np.clip(np.asarray(tag_probas, dtype=float), 0.0, 1.0)
    two = np.stack([p, 1.0 - p], axis=1)
    return float(np.max(strategies.uncertainty(two, strategy)) / strategies.max_uncertainty(strategy, 2))


# --- training -----------------------------------------------------------------------------------

def detector_targets(boxes, scale: float, class_index: dict[str, int]):
    """torchvision detection targets from (key, x, y, w, h) pixel boxes of the original frame."""
    import torch

    kept = [(class_index[k], x, y, w, h) for k, x, y, w, h in boxes if k in class_index]
    if not kept:
        return {"boxes": torch.zeros((0, 4)), "labels": torch.zeros((0,), dtype=torch.int64)}
    arr = torch.tensor([[x, y, x + w, y + h] for _, x, y, w, h in kept], dtype=torch.float32) * scale
    return {"boxes": arr, "labels": torch.tensor([c + 1 for c, *_ in kept], dtype=torch.int64)}


def detector_step(model, optimizer, images, targets) -> float:
    model.train()
    dev = next(model.parameters()).device
    losses = model([i.to(dev) for i in images], [{k: v.to(dev) for k, v in t.items()} for t in targets])
    loss = sum(losses.values())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def classifier_step(model, optimizer, images, targets) -> float:
    import torch

    model.train()
    dev = next(model.parameters()).device
    logits = model(_stack([i.to(dev) for i in images]))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.stack(targets).to(dev))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def detection_map(model, images, truths, n_classes: int) -> dict:
    """COCO mAP (pycocotools) of `model` on images with ground truths (torchvision targets).
    With no ground-truth box at all there is nothing to measure: None."""
    import torch
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not any(len(t["boxes"]) for t in truths):
        return {"map": None, "map50": None}
    model.eval()
    dev = next(model.parameters()).device
    gt = {"images": [], "annotations": [], "categories": [{"id": c + 1} for c in range(n_classes)]}
    dets = []
    with torch.inference_mode():
        for i, (img, truth) in enumerate(zip(images, truths), start=1):
            gt["images"].append({"id": i, "height": int(img.shape[1]), "width": int(img.shape[2])})
            for box, label in zip(truth["boxes"].tolist(), truth["labels"].tolist()):
                x0, y0, x1, y1 = box
                gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i, "category_id": label,
                                          "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
                                          "iscrowd": 0})
            pred = model([img.to(dev)])[0]
            for box, label, score in zip(pred["boxes"].tolist(), pred["labels"].tolist(), pred["scores"].tolist()):
                x0, y0, x1, y1 = box
                dets.append({"image_id": i, "category_id": label, "bbox": [x0, y0, x1 - x0, y1 - y0],
                             "score": score})
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its tables
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        if not dets:
            return {"map": 0.0, "map50": 0.0}
        evaluation = COCOeval(coco, coco.loadRes(dets), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = evaluation.stats
    return {"map": round(max(float(stats[0]), 0.0), 4), "map50": round(max(float(stats[1]), 0.0), 4)}


def tag_accuracy(model, images, targets) -> dict:
    """Per-tag accuracy at 0.5 over all (frame, tag) pairs, and the share of frames whose tags
    are all right."""
    import torch

    if not images:
        return {"tag_accuracy": None, "exact_match": None}
    model.eval()
    with torch.inference_mode():
        probas = torch.sigmoid(model(_stack([i.to(next(model.parameters()).device) for i in images]))).cpu()
    predicted = probas >= 0.5
    truth = torch.stack(targets) >= 0.5
    return {"tag_accuracy": round(float((predicted == truth).float().mean()), 4),
            "exact_match": round(float((predicted == truth).all(dim=1).float().mean()), 4)}
