"""Who may do what: every URL of aerie (API, pages, admin) × every role, with the answer expected.

One row per URL name and method. The answers are in the order of ROLES:

    anonymous  annotator  qa  trainer  admin  outsider

The outsider is a member of another project only, and holds every non-admin role there: whatever
a role allows, it must not reach this project's objects. The world behind the ids is
tests/permission_world.py; tests/test_permission_matrix.py walks this table over the URL conf,
so a URL without a row here fails.

Notation:
    200, 403, …   that status
    200+ / 200-   200, and the row's `sees` object is / is not in the list answered
    login         a redirect to the login page (pages, anonymous)
    admin-login   a redirect to the admin's login page
    ok            (admin site, staff) any answer below 500 but a login redirect

Writes are sent with an empty body unless the row gives one: a role that may write gets past the
permission check to the validation (400) or does the thing (in a savepoint rolled back after each
request); a role that may not gets 401/403, or 404 where the object is not theirs to see.
Denials by role (403) that come before any lookup answer the same whether the object exists or
not, so they leak nothing; the walk checks that for the outsider on every URL with an id."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Literal:
    value: str


@dataclass
class Entry:
    methods: dict[str, str]
    args: dict = field(default_factory=dict)  # URL kwarg -> key in World.ids, or a Literal
    sees: str | None = None  # key in World.ids of the object that list answers must (not) show
    bodies: dict = field(default_factory=dict)  # method -> request body (default: empty)
    fmt: str = "json"
    query: dict = field(default_factory=dict)  # method -> query string ("@key" names an id)


# What a URL kwarg points at unless the row says otherwise
DEFAULT_ARGS = {"project_pk": "project", "frame_pk": "frame", "frame_id": "frame", "item_pk": "review_item",
                "export_pk": "export", "version_pk": "model", "variant": Literal("thumbnail")}


def E(methods, **kw) -> Entry:
    return Entry(methods, **kw)


#                anon  ann   qa    train admin outsider
Q = "? ? ? ? ? ?"
MATRIX: dict[str, Entry] = {
    # the API: schema, docs, root, token
    "schema": E({"GET": "401 200 200 200 200 200"}),
    "api-docs": E({"GET": "401 200 200 200 200 200"}),
    "api-root": E({"GET": "401 200 200 200 200 200"}),
    "api-token": E({"POST": "400 400 400 400 400 400"}),
    # the audit trail: QA leads see their projects' events (the outsider is one elsewhere: this
    # project's events are not in their list, and asking for this project answers 404), admins all
    "audit-events": E({"GET": "401 403 200+ 403 200+ 200-"}, sees="audit_event"),
    "audit-export": E({"GET": "401 403 200 403 200 404"}, query={"GET": "project=@project"}),
    "audit-chain": E({"GET": "401 403 200 403 200 200"}),
    "audit-seal": E({"POST": "401 403 403 403 201 403"}),
    # footage
    "dataset-list": E({"GET": "401 200+ 200+ 200+ 200+ 200-", "POST": "401 403 403 403 400 403"}, sees="dataset"),
    "dataset-detail": E({
        "GET": "401 200 200 200 200 404",
        "PUT": "401 403 403 403 400 403",
        "PATCH": "401 403 403 403 200 403",
    }, args={"pk": "dataset"}),
    "dataset-ingest": E({"POST": "401 403 403 403 400 404"}, args={"pk": "dataset"}, fmt="multipart"),
    "dataset-versions": E({
        "GET": "401 403 403 200+ 200+ 404",
        "POST": "401 403 403 201 201 404",
    }, args={"pk": "dataset"}, sees="dataset_version"),
    "dataset-sensitive": E({"POST": "401 403 403 403 201 404"}, args={"pk": "dataset"}),
    "sequence-list": E({"GET": "401 200+ 200+ 200+ 200+ 200-"}, sees="sequence"),
    "sequence-detail": E({"GET": "401 200 200 200 200 404"}, args={"pk": "sequence"}),
    "sequence-sensitive": E({"POST": "401 403 403 403 201 404"}, args={"pk": "sequence"}),
    "frame-list": E({"GET": "401 200+ 200+ 200+ 200+ 200-"}, sees="frame"),
    "frame-detail": E({"GET": "401 200 200 200 200 404"}, args={"pk": "frame"}),
    "ingestjob-list": E({"GET": "401 200- 200+ 200+ 200+ 200-"}, sees="ingestjob"),
    "ingestjob-detail": E({"GET": "401 404 200 200 200 404"}, args={"pk": "ingestjob"}),
    "ingestjob-retry": E({"POST": "401 404 403 403 409 404"}, args={"pk": "ingestjob"}),
    # projects and members
    "project-list": E({"GET": "401 200+ 200+ 200+ 200+ 200-", "POST": "401 403 403 403 400 403"}, sees="project"),
    "project-detail": E({
        "GET": "401 200 200 200 200 404",
        "PUT": "401 403 403 403 400 403",
        "PATCH": "401 403 403 403 200 403",
    }, args={"pk": "project"}),
    "project-members": E({
        "GET": "401 200+ 200+ 200+ 200+ 404",
        "POST": "401 403 403 403 400 403",
    }, sees="membership"),
    "project-member": E({
        "GET": "401 200 200 200 200 404",
        "DELETE": "401 403 403 403 204 403",
    }, args={"pk": "membership"}),
    # labeling
    "project-next": E({"POST": "401 200 200 403 403 404"}),
    "project-frame-state": E({"GET": "401 200 200 200 200 404"}),
    "assignment-renew": E({"POST": "401 200 404 404 404 404"}, args={"pk": "assignment"}),
    "assignment-draft": E({"PUT": "401 204 404 404 404 404"}, args={"pk": "assignment"}),
    "assignment-submit": E({"POST": "401 201 404 403 403 404"}, args={"pk": "assignment"}),
    "assignment-skip": E({"POST": "401 400 404 404 404 404"}, args={"pk": "assignment"}),
    # segment edits: the body is checked before the lookup (the same 400 whether the lease exists or not)
    "assignment-revise": E({"POST": "401 400 400 403 403 400"}, args={"pk": "assignment"}),
    "assignment-segment": E({"GET": "401 404 404 404 404 404"}, args={"pk": "assignment"}),  # the world's is a frame
    "assignment-propagate": E({"POST": "401 400 404 403 403 404"}, args={"pk": "assignment"}),  # a frame project
    "propagation-detail": E({"GET": "401 404 404 404 404 404"}, args={"pk": Literal("999999")}),
    "assignment-flag": E({"POST": "401 201 404 404 404 404"}, args={"pk": "assignment"}),
    "annotation-list": E({"GET": "401 200- 200+ 200- 200+ 200-"}, sees="peer_annotation"),
    "annotation-detail": E({"GET": "401 404 200 404 200 404"}, args={"pk": "peer_annotation"}),
    "annotation-revise": E({
        "POST": "401 404 404 403 403 404",
    }, bodies={"POST": {"base_revision": "@peer_annotation"}}),
    # quality
    "project-review": E({"GET": "401 403 200+ 403 200+ 404"}, sees="review_item"),
    "project-review-item": E({
        "GET": "401 403 200 403 200 404",
        "POST": "401 403 400 403 400 404",
    }, args={"pk": "review_item"}),
    "project-gold": E({"POST": "401 403 400 403 400 404", "DELETE": "401 403 204 403 204 404"},
                       query={"DELETE": "frame=@gold_frame"}),
    "project-quality": E({"GET": "401 403 200 403 200 404"}),
    "project-agreement-rescore": E({"GET": "401 403 200 403 200 404", "POST": "401 403 202 403 202 404"}),
    # models
    "project-models": E({
        "GET": "401 403 403 200+ 200+ 404",
        "POST": "401 403 403 400 400 404",
    }, sees="model", fmt="multipart"),
    "project-model-current": E({"POST": "401 403 403 200 200 404"}, args={"pk": "model"}),
    "project-model-verify": E({"GET": "401 403 403 200 200 404"}, args={"pk": "model"}),
    # --- model evaluation ---
    "project-evaluation-sets": E({"GET": "401 403 403 200 200 404", "POST": "401 403 403 400 400 404"}),
    "evaluation-set-verify": E({"GET": "401 403 403 200 200 404"}, args={"pk": "evaluation_set"}),
    "evaluation-set-changes": E({"GET": "401 403 403 200 200 404"}, args={"pk": "evaluation_set"}),
    "model-version-evaluations": E({"GET": "401 403 403 200 200 404", "POST": "401 403 403 400 400 404"},
                                   args={"pk": "model"}),
    "model-version-compare": E({"GET": "401 403 403 400 400 404"}, args={"a": "model", "b": "model"}),
    # --- end model evaluation ---
    "project-training": E({"GET": "401 403 403 200 200 404", "POST": "401 403 403 400 400 404"}),
    "project-scoring": E({"GET": "401 403 403 200 200 404", "POST": "401 403 403 400 400 404"}),
    # model governance: promotion (trainers propose, approvers decide), cards, deployed, incidents
    "project-model-promotions": E({"GET": "401 403 200 200 200 404", "POST": "401 403 403 400 400 404"},
                                  args={"pk": "model"}),
    "project-promotion-approve": E({"POST": "401 403 403 403 200 404"}, args={"pk": "promotion"}),
    "project-promotion-reject": E({"POST": "401 403 403 403 400 404"}, args={"pk": "promotion"}),
    "project-promotion-withdraw": E({"POST": "401 403 403 200 200 404"}, args={"pk": "promotion"}),
    "project-model-card": E({"GET": "401 403 200 200 200 404", "PATCH": "401 403 403 400 400 404"},
                            args={"pk": "model"}),
    "project-model-card-markdown": E({"GET": "401 403 200 200 200 404"}, args={"pk": "model"}),
    "project-model-card-signature": E({"GET": "401 403 200 200 200 404"}, args={"pk": "model"}),
    "project-model-weights": E({"GET": "401 403 403 200 200 404"}, args={"pk": "model"}),
    "project-deployed": E({"GET": "401 403 403 200 200 404"}),
    "project-incidents": E({"GET": "401 200- 200+ 200+ 200+ 404", "POST": "401 400 400 400 400 404"},
                           sees="incident"),
    "project-incident-triage": E({"POST": "401 403 400 403 400 404"}, args={"pk": "incident"}),
    "project-drift": E({"GET": "401 403 200 403 200 404"}),
    "project-quarantines": E({"GET": "401 403 200 403 200 404", "POST": "401 403 400 403 400 404"}),
    "project-quarantine-lift": E({"POST": "401 403 400 403 400 404"}, args={"pk": "quarantine"}),
    # exports and imports
    "project-exports": E({"GET": "401 403 403 200+ 200+ 404", "POST": "401 403 403 400 400 404"}, sees="export"),
    "project-export": E({"GET": "401 403 403 200 200 404"}, args={"pk": "export"}),
    "project-export-download": E({"GET": "401 403 403 200 200 404"}, args={"pk": "export"}),
    "project-imports": E({"POST": "401 403 400 403 400 404"}, fmt="multipart"),
    # protection
    "protection-me": E({"GET": "401 200 200 200 200 200", "PATCH": "401 200 200 200 200 200"}),
    "protection-consent": E({"POST": "401 400 400 400 400 400"}),
    "protection-checkin": E({"GET": "401 200 200 200 200 200", "POST": "401 400 400 400 400 400"}),
    "reveal-end": E({"POST": "401 200 404 404 404 404"}, args={"pk": "reveal"}),
    "project-protection": E({"GET": "401 403 200 403 200 404", "PATCH": "401 403 403 403 200 404"}),
    "project-break": E({"POST": "401 200 200 200 200 404"}),
    "frame-reveal": E({"POST": "401 201 403 403 403 404"}, args={"frame_pk": "sensitive_frame"}),
    "frame-report": E({"POST": "401 201 201 201 201 404"}),
    "frame-sensitivity": E({"GET": "401 403 200 403 200 404"}),
    # raw access (admins grant and revoke; the dataset of another project is a 404)
    "dataset-raw-access": E({"GET": "401 403 403 403 200 404", "POST": "401 403 403 403 400 404"},
                            args={"pk": "dataset"}),
    "raw-access-revoke": E({"POST": "401 403 403 403 400 404"}, args={"pk": "raw_grant"}),
    # retention and legal holds (admins; the dataset of another project is a 404)
    "dataset-retention": E({"GET": "401 403 403 403 200 404", "PUT": "401 403 403 403 400 404"},
                           args={"pk": "dataset"}),
    "dataset-retention-preview": E({"POST": "401 403 403 403 200 404"}, args={"pk": "dataset"}),
    "dataset-retention-run": E({"POST": "401 403 403 403 202 404"}, args={"pk": "dataset"}),
    "retention-run": E({"GET": "401 403 403 403 200 403"}, args={"pk": "retention_run"}),
    "dataset-holds": E({"POST": "401 403 403 403 400 404"}, args={"pk": "dataset"}),
    "sequence-holds": E({"POST": "401 403 403 403 400 404"}, args={"pk": "sequence"}),
    "hold-lift": E({"POST": "401 403 403 403 400 404"}, args={"pk": "legal_hold"}),
    # derived versions and shares (admins); a share's link answers 404 to any token but its own
    "dataset-version-derive": E({"POST": "401 403 403 403 201 404"}, args={"pk": "dataset_version"}),
    "derived-version-shares": E({"GET": "401 403 403 403 200 404", "POST": "401 403 403 403 400 404"},
                                args={"pk": "derived_version"}),
    "share-revoke": E({"POST": "401 403 403 403 400 404"}, args={"pk": "share"}),
    "dataset-redaction-start": E({"POST": "login 403 302 403 302 404"}, args={"pk": "dataset"}, fmt="multipart"),
    "dataset-derive": E({"POST": "login 403 403 403 302 404"}, args={"pk": "dataset", "version_pk": "dataset_version"},
                        fmt="multipart"),
    "dataset-share": E({"POST": "login 403 403 403 302 404"}, args={"pk": "dataset", "derived_pk": "derived_version"},
                       fmt="multipart"),
    "dataset-share-revoke": E({"POST": "login 403 403 403 302 404"}, args={"pk": "dataset", "share_pk": "share"},
                              fmt="multipart"),
    "dataset-raw-grant": E({"POST": "login 403 403 403 302 404"}, args={"pk": "dataset"}, fmt="multipart"),
    "dataset-raw-revoke": E({"POST": "login 403 403 403 302 404"}, args={"pk": "dataset", "grant_pk": "raw_grant"},
                            fmt="multipart"),
    "frame-redaction": E({"GET": "login 403 200 403 200 404"}, args={"pk": "frame"}),
    "frame-redaction-add": E({"POST": "login 403 302 403 302 404"}, args={"pk": "frame"}, fmt="multipart"),
    "frame-redaction-remove": E({"POST": "login 403 302 403 302 404"}, args={"pk": "frame", "region_pk": "redaction_region"},
                                fmt="multipart"),
    "share-download": E({"GET": "404 404 404 404 404 404"}, args={"token": Literal("not-a-token-of-any-share-00000")}),
    # redaction (QA leads and admins of the dataset's projects; POST with an empty body starts a run,
    # adds nothing (400: the fields are required) and removes nothing (400: a reason is required))
    "dataset-redaction": E({"GET": "401 403 200 403 200 404", "POST": "401 403 202 403 202 404"},
                           args={"pk": "dataset"}),
    "frame-redaction-regions": E({"GET": "401 403 200 403 200 404", "POST": "401 403 400 403 400 404"},
                                 args={"pk": "frame"}),
    "redaction-region-remove": E({"POST": "401 403 400 403 400 404"}, args={"pk": "redaction_region"}),
    "frame-sensitivity-clear": E({"POST": "401 403 400 403 400 404"}, args={"frame_pk": "sensitive_frame"}),
    # ontology
    "ontology-list": E({"GET": "401 200+ 200+ 200+ 200+ 200-", "POST": "401 403 403 403 400 403"}, sees="ontology"),
    "ontology-detail": E({"GET": "401 200 200 200 200 404"}, args={"pk": "ontology"}),
    "ontologyversion-list": E({"GET": "401 200+ 200+ 200+ 200+ 200-"}, sees="ontology_version"),
    "ontologyversion-detail": E({"GET": "401 200 200 200 200 404"}, args={"pk": "ontology_version"}),
    "ontologyversion-publish": E({"POST": "401 403 403 403 200 403"}, args={"pk": "draft_version"}),
    "ontologyversion-derive": E({"POST": "401 403 403 403 201 403"}, args={"pk": "ontology_version"}),
    "labelclass-list": E({
        "GET": "401 200+ 200+ 200+ 200+ 200-",
        "POST": "401 403 403 403 400 403",
    }, sees="label_class"),
    "labelclass-detail": E({
        "GET": "401 200 200 200 200 404",
        "PUT": "401 403 403 403 400 403",
        "PATCH": "401 403 403 403 200 403",
        "DELETE": "401 403 403 403 204 403",
    }, args={"pk": "label_class"}),
    "ontologymigration-list": E({
        "GET": "401 200+ 200+ 200+ 200+ 200-",
        "POST": "401 403 403 403 400 403",
    }, sees="migration"),
    "ontologymigration-detail": E({"GET": "401 200 200 200 200 404"}, args={"pk": "migration"}),
    "ontologymigration-preview": E({"GET": "401 200 200 200 200 404"}, args={"pk": "migration"}),
    "ontologymigration-apply": E({"POST": "401 403 403 403 200 403"}, args={"pk": "migration"}),
    # pages
    "login": E({"GET": "200 200 200 200 200 200"}),
    "logout": E({"POST": "login login login login login login"}),
    "home": E({"GET": "login 200 200 200 200 200"}),
    "dataset": E({"GET": "login 200 200 200 200 404"}, args={"pk": "dataset"}),
    "dataset-live": E({"GET": "login 200 200 200 200 404"}, args={"pk": "dataset"}),
    "dataset-upload": E({"POST": "login 403 403 403 302 404"}, args={"pk": "dataset"}, fmt="multipart"),
    "dataset-snapshot": E({"POST": "login 403 403 302 302 404"}, args={"pk": "dataset"}, fmt="multipart"),
    "sequence": E({"GET": "login 200 200 200 200 404"}, args={"pk": "sequence"}),
    "label": E({"GET": "login 200 200 403 403 404"}, args={"pk": "project"}),
    "label-frame": E({"GET": "login 200 200 403 403 404"}, args={"pk": "project"}),
    "review-queue": E({"GET": "login 403 200 403 200 404"}, args={"pk": "project"}),
    "review-item": E({"GET": "login 403 200 403 200 404"}, args={"pk": "project"}),
    "review-decide": E({"POST": "login 403 302 403 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "review-edit": E({"GET": "login 403 200 403 200 404"}, args={"pk": "project"}),
    "review-clear-sensitivity": E({"POST": "login 403 302 403 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "quality": E({"GET": "login 403 200 403 200 404"}, args={"pk": "project"}),
    "drift": E({"GET": "login 403 200 403 200 404"}, args={"pk": "project"}),
    "quarantine-create": E({"POST": "login 403 302 403 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "quarantine-lift": E({"POST": "login 403 302 403 302 404"}, args={"pk": "project", "quarantine_pk": "quarantine"},
                         fmt="multipart"),
    "models": E({"GET": "login 403 403 200 200 404"}, args={"pk": "project"}),
    "audit": E({"GET": "login 403 200 403 200 404"}, query={"GET": "project=@project"}),
    "audit-export-page": E({"GET": "login 403 200 403 200 200"}),
    "audit-seal-page": E({"POST": "login 403 403 403 302 403"}),
    "models-jobs": E({"GET": "login 403 403 200 200 404"}, args={"pk": "project"}),
    "models-train": E({"POST": "login 403 403 302 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "models-rescore": E({"POST": "login 403 403 302 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "models-evaluate": E({"POST": "login 403 403 302 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "model-card": E({"GET": "login 403 200 200 200 404"}),
    "model-card-propose": E({"POST": "login 403 403 302 302 404"}, fmt="multipart"),
    "model-card-decide": E({"POST": "login 403 302 302 302 404"}, args={"promotion_pk": "promotion"},
                           fmt="multipart"),
    "model-card-describe": E({"POST": "login 403 403 302 302 404"}, fmt="multipart"),
    "incidents": E({"GET": "login 403 200 200 200 404"}, args={"pk": "project"}),
    "incident-triage": E({"POST": "login 403 302 403 302 404"}, args={"pk": "project", "incident_pk": "incident"},
                         fmt="multipart"),
    "models-current": E({"POST": "login 403 403 302 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "protection": E({"GET": "login 200 200 200 200 200"}),
    "protection-update": E({"POST": "login 302 302 302 302 302"}, fmt="multipart"),
    "protection-team": E({"GET": "login 403 200 403 200 404"}, args={"pk": "project"}),
    "protection-policy": E({"POST": "login 403 403 403 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "exports": E({"GET": "login 403 200 200 200 404"}, args={"pk": "project"}),
    "export-create": E({"POST": "login 403 403 302 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "export-download": E({"GET": "login 403 403 200 200 404"}, args={"pk": "project"}),
    "import-upload": E({"POST": "login 403 302 403 302 404"}, args={"pk": "project"}, fmt="multipart"),
    "frame-image": E({"GET": "login 200 200 200 200 404"}, args={"pk": "frame"}),
}

# The Django admin: staff (aerie's admins) only; everyone else is sent to its login page.
ADMIN_SITE = E({"GET": "admin-login admin-login admin-login admin-login ok admin-login"},
               args={"object_id": Literal("1"), "content_type_id": Literal("1"), "id": Literal("1"),
                     "app_label": Literal("labeling"), "url": Literal("nowhere/")})
ADMIN_EXCEPTIONS: dict[str, Entry] = {
    # its login page shows to anyone; a staff member already signed in is sent on to the index
    "admin:login": E({"GET": "200 200 200 200 302 200"}),
    # logging out is a POST; a GET by anyone not signed in to the admin is sent to its index
    "admin:logout": E({"GET": "302 302 302 302 405 302"}),
}


def entry_for(name: str) -> Entry | None:
    if name in MATRIX:
        return MATRIX[name]
    if name.startswith("admin:"):
        return ADMIN_EXCEPTIONS.get(name, ADMIN_SITE)
    return None


LOGIN_TOKENS = {"login": "/login/", "admin-login": "/admin/login/"}


def describe(response, want: str, object_id, visible) -> str:
    """The answer in the matrix's notation."""
    code = response.status_code
    if code in (301, 302):
        location = response.get("Location", "")
        for token, prefix in LOGIN_TOKENS.items():
            if location.startswith(prefix):
                return token
    if code == 200 and object_id is not None and (want[-1:] in "+-" or want == "?"):
        return f"200{'+' if visible(response, object_id) else '-'}"
    return str(code)


def matches(got: str, want: str) -> bool:
    if want == "ok":
        return got not in LOGIN_TOKENS and not (got.isdigit() and int(got) >= 500)
    return got == want


def status_of(token: str) -> int:
    if token in LOGIN_TOKENS:
        return 302
    return int(token.rstrip("+-"))
