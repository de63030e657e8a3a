"""Model cards: what a model version is for, what it was trained on, how it does overall and per
slice (worst first), where its operating thresholds are, what it confuses, what went wrong with
it (open incidents) and who approved it. A card is a function of the database: the same state
gives the same canonical JSON, so its signature can be fetched separately and still match.

The signed document is the card's canonical JSON (`signing.canonical_json`); the signature is
Ed25519 by this installation's key over a domain-separated statement of that JSON's sha256
(`statement`), as model weights are signed over theirs (`sampling.registry.statement`)."""
from __future__ import annotations

import hashlib

from django.db import transaction

from labeling import audit
from labeling.access import roles, signing
from labeling.models import EvaluationRun, ModelVersion

from . import compare, incidents

CARD_SCHEMA = "aerie-model-card-v1"
EXCLUDED_KEYS = ("evaluation_sets_excluded", "excluded_evaluation_sets", "evaluation_sets")
MAX_CONFUSIONS = 10
MAX_TEXT = 10_000


class CardError(ValueError):
    """Refused; nothing changed."""


def _when(value) -> str | None:
    return value.isoformat() if value else None


def _name(user) -> str | None:
    return user.username if user else None


def _runs(version: ModelVersion) -> list[EvaluationRun]:
    """The latest finished run of the version on each evaluation set."""
    latest = {}
    for run in (EvaluationRun.objects.filter(model_version=version, status=EvaluationRun.DONE)
                .select_related("evaluation_set").order_by("evaluation_set__name", "-finished_at", "-pk")):
        latest.setdefault(run.evaluation_set_id, run)
    return list(latest.values())


def _evaluation(run: EvaluationRun) -> dict:
    metrics = run.metrics or {}
    confusions = sorted(metrics.get("confusions") or [], key=lambda c: (-int(c.get("count") or 0),
                                                                       str(c.get("truth")), str(c.get("predicted"))))
    return {"set": run.evaluation_set.name, "set_id": run.evaluation_set_id, "required": run.evaluation_set.required,
            "manifest_sha256": run.evaluation_set.manifest_sha256, "run": run.pk, "finished_at": _when(run.finished_at),
            "overall": metrics.get("overall") or {}, "per_class": metrics.get("per_class") or {},
            "slices": compare.worst_first(metrics.get("slices")), "thresholds": metrics.get("thresholds") or {},
            "confusions": confusions[:MAX_CONFUSIONS], "latency_ms_b1": run.latency_ms_b1,
            "hardware": run.hardware, "tracking": (metrics.get("tracking") or {}).get("overall")}


def _lineage(version: ModelVersion) -> dict:
    lineage = version.lineage or {}
    snapshot = lineage.get("approved_snapshot") or {}
    excluded = next((lineage[k] for k in EXCLUDED_KEYS if k in lineage), None)
    return {"training_run": lineage.get("training_run"), "parent_model": lineage.get("parent_model"),
            "uploaded": lineage.get("uploaded"), "dataset_version": lineage.get("dataset_version"),
            "ontology_version": lineage.get("ontology_version", version.ontology_version_id),
            "approved_snapshot_sha256": snapshot.get("frame_ids_sha256"),
            "approved_snapshot": snapshot or None, "evaluation_sets_excluded": excluded,
            "sbom_sha256": lineage.get("sbom_sha256"),
            "registered_with_sbom_sha256": lineage.get("registered_with_sbom_sha256")}


def _flags(version: ModelVersion) -> list[dict]:
    flags = []
    quarantined = (version.lineage or {}).get("quarantine_flags")
    if quarantined:
        flags.append({"flag": "trained_on_quarantined_submissions",
                      "text": "trained on submissions that are now quarantined", "detail": quarantined})
    return flags


def card(version: ModelVersion) -> dict:
    open_ones = incidents.open_incidents(version).select_related("filed_by").order_by("pk")
    promotions = version.promotions.select_related("proposed_by", "decided_by").order_by("proposed_at", "pk")
    history = [{"id": p.pk, "status": p.status, "note": p.note, "proposed_by": _name(p.proposed_by),
                "proposed_at": _when(p.proposed_at), "decided_by": _name(p.decided_by),
                "decided_at": _when(p.decided_at), "reason": p.reason,
                "checks_passed": (p.checks or {}).get("passed"), "problems": (p.checks or {}).get("problems", [])}
               for p in promotions]
    return {
        "schema": CARD_SCHEMA,
        "model_version": version.pk, "project": version.project_id, "kind": version.kind,
        "architecture": version.architecture, "class_map": list(version.class_map or []),
        "sha256": version.sha256, "key_id": version.key_id,
        "registered_at": _when(version.created_at), "registered_by": _name(version.created_by),
        "is_current": version.is_current, "is_deployed": version.is_deployed,
        "deployed_at": _when(version.deployed_at),
        "intended_use": version.intended_use, "limitations": version.limitations,
        "lineage": _lineage(version), "validation": version.metrics or {},
        "evaluations": [_evaluation(r) for r in _runs(version)],
        "open_incidents": [{"id": i.pk, "kind": i.kind, "status": i.status, "note": i.note, "frame": i.frame_id,
                            "filed_by": _name(i.filed_by), "filed_at": _when(i.filed_at)} for i in open_ones],
        "promotions": history,
        "approvals": [h for h in history if h["status"] == "approved"],
        "flags": _flags(version),
    }


def statement(json_sha256: str) -> bytes:
    return b"aerie-model-card-v1:" + signing.canonical_json({"card_sha256": json_sha256})


def signed(card_dict: dict) -> tuple[bytes, dict]:
    """(the card's canonical JSON, {sha256, signature, key_id})."""
    data = signing.canonical_json(card_dict)
    sha = hashlib.sha256(data).hexdigest()
    signer = signing.signer()
    return data, {"sha256": sha, "signature": signer.sign(statement(sha)), "key_id": signer.key_id}


def verify_card(json_bytes: bytes, signature: str, key_id: str | None = None) -> bool:
    """A card's signature by the key it names (`key_id`; the keyring's first key when None)."""
    return signing.verify(statement(hashlib.sha256(json_bytes).hexdigest()), signature or "", key_id=key_id)


def _pct(value) -> str:
    return "—" if value is None else f"{float(value):.3f}"


def card_markdown(c: dict, signature: dict | None = None) -> str:
    out = [f"# Model card: {c['architecture']} `{c['sha256'][:12]}` (version {c['model_version']})", ""]
    state = ["deployed" if c["is_deployed"] else "not deployed", "current (sampler)" if c["is_current"] else ""]
    out += [f"{c['kind']} · {', '.join(s for s in state if s)} · classes: {', '.join(c['class_map'])}", ""]
    for flag in c["flags"]:
        out += [f"> **Warning:** {flag['text']}.", ""]
    out += ["## Intended use", "", c["intended_use"] or "_Not written yet._", "",
            "## Limitations", "", c["limitations"] or "_Not written yet._", "", "## Training data lineage", ""]
    lin = c["lineage"]
    out += [f"- dataset version: {lin['dataset_version'] if lin['dataset_version'] is not None else '—'}",
            f"- ontology version: {lin['ontology_version']}",
            f"- approved-label snapshot sha256: `{lin['approved_snapshot_sha256'] or '—'}`",
            f"- evaluation sets excluded: {lin['evaluation_sets_excluded'] if lin['evaluation_sets_excluded'] else '—'}",
            f"- software (SBOM sha256): `{lin.get('sbom_sha256') or lin.get('registered_with_sbom_sha256') or '—'}`"
            + (" (the software that registered it)" if not lin.get("sbom_sha256")
               and lin.get("registered_with_sbom_sha256") else ""),
            ""]
    out += ["## Evaluation", ""]
    if not c["evaluations"]:
        out += ["_No finished evaluation run._", ""]
    for ev in c["evaluations"]:
        o = ev["overall"]
        out += [f"### {ev['set']}{' (required)' if ev['required'] else ''}", "",
                f"mAP {_pct(o.get('map'))} · mAP@0.5 {_pct(o.get('map50'))} · {o.get('frames', '—')} frames · "
                f"latency {ev['latency_ms_b1'] if ev['latency_ms_b1'] is not None else '—'} ms at batch 1"
                f"{' on ' + ev['hardware'] if ev['hardware'] else ''}", ""]
        if ev.get("tracking"):
            t = ev["tracking"]
            out += [f"Tracking (detector plus IoU association, against approved tracks): IDF1 {_pct(t['idf1'])} · "
                    f"MOTA {_pct(t['mota'])} · {t['id_switches']} identity switches", ""]
        out += ["| slice (worst first) | mAP | mAP@0.5 | frames |", "|---|---|---|---|"]
        out += [f"| {s['slice']} | {_pct(s['map'])} | {_pct(s['map50'])} | {s['frames']} |" for s in ev["slices"]]
        out += ["", "| class | threshold | precision | recall |", "|---|---|---|---|"]
        out += [f"| {k} | {_pct(t.get('threshold'))} | {_pct(t.get('precision'))} | {_pct(t.get('recall'))} |"
                for k, t in sorted(ev["thresholds"].items())]
        if ev["confusions"]:
            out += ["", "Most frequent confusions: " + "; ".join(
                f"{x['truth']} → {x['predicted']} ({x['count']})" for x in ev["confusions"])]
        out += [""]
    out += ["## Open incidents", ""]
    out += [f"- #{i['id']} {i['kind']} ({i['status']}): {i['note']}" for i in c["open_incidents"]] or ["None."]
    out += ["", "## Promotion history", ""]
    out += [f"- {p['proposed_at']}: proposed by {p['proposed_by']} — {p['status']}"
            + (f" by {p['decided_by']} ({p['decided_at']})" if p["decided_by"] else "")
            + (f": {p['reason']}" if p["reason"] else "") for p in c["promotions"]] or ["None."]
    if signature:
        out += ["", "---", "", f"Card JSON sha256 `{signature['sha256']}`, Ed25519 signature (key "
                f"{signature['key_id']}) over `aerie-model-card-v1:` + canonical JSON "
                f"{{\"card_sha256\": …}}: `{signature['signature']}`"]
    return "\n".join(out) + "\n"


def describe(version: ModelVersion, user, *, intended_use: str | None = None,
             limitations: str | None = None) -> ModelVersion:
    """The trainer's words on the card: intended use and limitations."""
    if not roles.can_manage_models(user):
        raise CardError("only trainers and admins write a model card's intended use and limitations")
    changes = {k: v for k, v in (("intended_use", intended_use), ("limitations", limitations)) if v is not None}
    if not changes:
        raise CardError("give intended_use and/or limitations")
    for key, value in changes.items():
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise CardError(f"{key}: text of at most {MAX_TEXT} characters")
        changes[key] = value.strip()
    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(**changes)
        for key, value in changes.items():
            setattr(version, key, value)
        audit.record(user, "model.card.describe", version, {"project": version.project_id, **changes})
    return version
