"""Versioned ontology: published versions are immutable for the ORM and for raw SQL; migrations
between versions are explicit, previewable, and write new revisions."""
import pytest
from django.db import DatabaseError, connection, transaction

from labeling.exchange import ontology_migration
from labeling.models import Annotation, AnnotationBox, AnnotationTag, Frame, Sequence
from ontology import services
from tests.conftest import api_client
from ontology.attributes import AttributeSchemaError, validate_values
from ontology.models import ImmutableError, LabelClass, OntologyVersion

pytestmark = pytest.mark.django_db


def sql(statement, params=()):
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement, params)


def test_published_version_refuses_orm_changes(published_version):
    person = published_version.classes.get(key="person")
    person.name = "Human"
    with pytest.raises(ImmutableError):
        person.save()
    with pytest.raises(ImmutableError):
        person.delete()
    with pytest.raises(ImmutableError):
        services.add_class(published_version, key="boat", name="Boat")
    with pytest.raises(ImmutableError):
        LabelClass(version=published_version, key="boat", name="Boat").save()
    published_version.notes = "rewritten"
    with pytest.raises(ImmutableError):
        published_version.save()
    with pytest.raises(ImmutableError):
        published_version.delete()
    assert published_version.classes.get(key="person").name == "Person"


@pytest.mark.parametrize("statement", [
    "UPDATE ontology_labelclass SET name = 'Human' WHERE version_id = %s",
    "DELETE FROM ontology_labelclass WHERE version_id = %s",
    "INSERT INTO ontology_labelclass (version_id, key, name, color, shortcut, kind, sensitive, attributes, \"order\") "
    "VALUES (%s, 'boat', 'Boat', '#000000', '', 'box', false, '[]', 9)",
    "UPDATE ontology_ontologyversion SET notes = 'x' WHERE id = %s",
    "UPDATE ontology_ontologyversion SET status = 'draft' WHERE id = %s",
    "DELETE FROM ontology_ontologyversion WHERE id = %s",
])
def test_published_version_refuses_raw_sql(published_version, statement):
    with pytest.raises(DatabaseError, match="immutable"):
        sql(statement, [published_version.pk])
    assert published_version.classes.filter(name="Person").exists()


def test_draft_is_editable_and_publishing_needs_classes():
    draft = services.create_ontology("Draft only")
    with pytest.raises(services.OntologyError, match="no label classes"):
        services.publish(draft)
    label = services.add_class(draft, key="boat", name="Boat", shortcut="b")
    label.name = "Vessel"
    label.save()
    sql("UPDATE ontology_labelclass SET color = '#123456' WHERE id = %s", [label.pk])
    published = services.publish(draft)
    assert published.status == OntologyVersion.PUBLISHED and published.published_at
    with pytest.raises(services.OntologyError, match="already published"):
        services.publish(published)


def test_class_definitions_are_validated():
    draft = services.create_ontology("Validated")
    with pytest.raises(AttributeSchemaError, match=r"attributes\[0\].options"):
        services.add_class(draft, key="a", name="A", attributes=[{"key": "x", "type": "enum", "options": []}])
    with pytest.raises(AttributeSchemaError, match="type must be one of"):
        services.add_class(draft, key="a", name="A", attributes=[{"key": "x", "type": "colour"}])
    with pytest.raises(Exception, match="lowercase"):
        services.add_class(draft, key="Not OK", name="A")
    services.add_class(draft, key="a", name="A", shortcut="a")
    with pytest.raises(Exception):
        with transaction.atomic():
            services.add_class(draft, key="b", name="B", shortcut="a")  # shortcut taken


def test_attribute_values_are_checked_against_the_schema():
    specs = [{"key": "posture", "type": "enum", "options": ["standing", "lying"], "required": True},
             {"key": "count", "type": "number", "min": 0, "max": 10}, {"key": "armed", "type": "bool"}]
    assert validate_values(specs, {"posture": "lying", "count": 3, "armed": False})
    with pytest.raises(AttributeSchemaError, match="attributes.posture is required"):
        validate_values(specs, {"count": 1})
    with pytest.raises(AttributeSchemaError, match="attributes.posture must be one of"):
        validate_values(specs, {"posture": "flying"})
    with pytest.raises(AttributeSchemaError, match=r"attributes.count must be ≤ 10"):
        validate_values(specs, {"posture": "lying", "count": 11})
    with pytest.raises(AttributeSchemaError, match="attributes.armed must be true or false"):
        validate_values(specs, {"posture": "lying", "armed": "yes"})
    with pytest.raises(AttributeSchemaError, match="attributes.colour is not an attribute"):
        validate_values(specs, {"posture": "lying", "colour": "red"})


def test_derive_copies_classes_into_a_new_draft(published_version):
    draft = services.derive(published_version)
    assert draft.number == 2 and draft.status == OntologyVersion.DRAFT and draft.derived_from == published_version
    assert sorted(draft.classes.values_list("key", flat=True)) == ["car", "crowd", "person", "truck"]
    draft.classes.get(key="person").delete()  # the draft can change; v1 did not
    assert published_version.classes.filter(key="person").exists()


@pytest.fixture
def annotated(project, users, published_version):
    """Two annotators' work on two frames, pinned to v1."""
    seq = Sequence.objects.create(dataset=project.dataset, name="s", kind=Sequence.IMAGES, status=Sequence.READY,
                                  source_name="s.zip", source_sha256="0" * 64, source_size=1)
    frames = [Frame.objects.create(sequence=seq, index=i, source_index=i, sha256=f"{i:064d}", width=100, height=100)
              for i in range(2)]
    cls = {c.key: c for c in published_version.classes.all()}
    made = []
    for frame in frames:
        for who in ("annotator", "qa"):
            ann = Annotation.objects.create(project=project, frame=frame, annotator=users[who],
                                            ontology_version=published_version)
            AnnotationBox.objects.create(annotation=ann, label_class=cls["car"], x=1, y=2, w=10, h=10)
            AnnotationBox.objects.create(annotation=ann, label_class=cls["truck"], x=20, y=2, w=10, h=10, track_id=4)
            AnnotationBox.objects.create(annotation=ann, label_class=cls["person"], x=50, y=2, w=5, h=12,
                                         attributes={"posture": "standing"})
            AnnotationTag.objects.create(annotation=ann, label_class=cls["crowd"])
            made.append(ann)
    return made


@pytest.fixture
def v2(published_version):
    """v2 merges car and truck into vehicle, and drops the crowd tag."""
    draft = services.derive(published_version)
    draft.classes.filter(key__in=["car", "truck", "crowd"]).delete()
    services.add_class(draft, key="vehicle", name="Vehicle", shortcut="2")
    return services.publish(draft)


def test_every_ontology_write_is_audited_in_its_transaction(users):
    """The ontology app announces its writes (ontology.signals); the audit trail records each."""
    from labeling.models import AuditEvent

    admin = users["admin"]
    version = services.create_ontology("Audited", user=admin)
    services.add_class(version, key="tank", name="Tank")
    version = services.publish(version, user=admin)
    draft = services.derive(version, user=admin)
    draft = services.publish(draft, user=admin)
    migration = services.create_migration(version, draft, {"tank": "tank"}, user=admin)
    events = list(AuditEvent.objects.filter(verb__startswith="ontology.").order_by("pk")
                  .values_list("verb", "actor_id", "object_type", "object_id"))
    assert events[-5:] == [
        ("ontology.create", admin.pk, "ontology.ontologyversion", str(version.pk)),
        ("ontology.publish", admin.pk, "ontology.ontologyversion", str(version.pk)),
        ("ontology.derive", admin.pk, "ontology.ontologyversion", str(draft.pk)),
        ("ontology.publish", admin.pk, "ontology.ontologyversion", str(draft.pk)),
        ("ontology.migration.create", admin.pk, "ontology.ontologymigration", str(migration.pk)),
    ]
    with pytest.raises(services.OntologyError):  # refused: nothing written, nothing audited
        services.publish(draft, user=admin)
    assert AuditEvent.objects.filter(verb__startswith="ontology.").count() == len(events)


def test_migration_mapping_is_validated(published_version, v2):
    with pytest.raises(services.OntologyError, match="no entry for 'crowd'"):
        services.create_migration(published_version, v2, {"car": "vehicle", "truck": "vehicle", "person": "person"})
    with pytest.raises(services.OntologyError, match="'boat' is not a class"):
        services.create_migration(published_version, v2,
                                  {"car": "boat", "truck": "vehicle", "person": "person", "crowd": None})
    with pytest.raises(services.OntologyError, match="kind tag cannot become box"):
        services.create_migration(published_version, v2,
                                  {"car": "vehicle", "truck": "vehicle", "person": "person", "crowd": "vehicle"})
    draft = services.derive(v2)
    with pytest.raises(services.OntologyError, match="must be published"):
        services.create_migration(v2, draft, {"person": "person", "vehicle": "vehicle"})


def test_migration_preview_and_apply(annotated, published_version, v2, users):
    mapping = {"car": "vehicle", "truck": "vehicle", "person": "person", "crowd": None}
    migration = services.create_migration(published_version, v2, mapping, user=users["admin"])
    preview = ontology_migration.preview(migration).as_dict()
    assert preview == {
        "annotations": 4, "annotations_changed": 4,
        "boxes_remapped": {"car→vehicle": 4, "truck→vehicle": 4, "person→person": 4},
        "boxes_dropped": {}, "tags_remapped": {}, "tags_dropped": {"crowd": 4},
    }
    old_rows = list(AnnotationBox.objects.order_by("pk").values_list("pk", "label_class_id", "x"))

    assert ontology_migration.apply(migration, user=users["admin"]) == 4

    assert list(AnnotationBox.objects.filter(pk__in=[r[0] for r in old_rows]).order_by("pk")
                .values_list("pk", "label_class_id", "x")) == old_rows  # history untouched
    heads = Annotation.objects.filter(superseded_by__isnull=True)
    assert heads.count() == 4
    vehicle = v2.classes.get(key="vehicle")
    for head in heads:
        assert head.ontology_version == v2 and head.revision == 2 and head.source == Annotation.MIGRATION
        assert head.supersedes.ontology_version == published_version
        keys = sorted(head.boxes.values_list("label_class__key", flat=True))
        assert keys == ["person", "vehicle", "vehicle"]
        assert head.boxes.get(track_id=4).label_class == vehicle
        assert head.boxes.get(label_class__key="person").attributes == {"posture": "standing"}
        assert head.tags.count() == 0
    assert ontology_migration.preview(migration).annotations == 0  # nothing left on v1
    with pytest.raises(ontology_migration.MigrationError, match="already applied"):
        ontology_migration.apply(migration)


def test_a_migration_preview_counts_only_the_projects_a_non_admin_belongs_to(annotated, published_version, v2,
                                                                             project, users):
    """Another project on the same ontology version: its work is counted for admins only."""
    from labeling.models import Project

    other = Project.objects.get(name="Other project")
    frame = annotated[0].frame
    elsewhere = Annotation.objects.create(project=other, frame=frame, annotator=users["outsider"],
                                          ontology_version=published_version)
    AnnotationBox.objects.create(annotation=elsewhere, label_class=published_version.classes.get(key="car"),
                                 x=1, y=2, w=10, h=10)
    migration = services.create_migration(published_version, v2,
                                          {"car": "vehicle", "truck": "vehicle", "person": "person", "crowd": None})
    url = f"/api/ontology-migrations/{migration.pk}/preview/"
    assert api_client(users["admin"]).get(url).json()["annotations"] == 5
    mine = api_client(users["qa"]).get(url).json()
    assert mine["annotations"] == 4 and mine["boxes_remapped"]["car→vehicle"] == 4
    theirs = api_client(users["outsider"]).get(url).json()
    assert theirs["annotations"] == 1 and theirs["boxes_remapped"] == {"car→vehicle": 1}


def test_annotation_history_is_append_only_in_the_database(annotated):
    ann = annotated[0]
    for statement in ("UPDATE labeling_annotation SET revision = 7 WHERE id = %s",
                      "DELETE FROM labeling_annotationbox WHERE annotation_id = %s",
                      "UPDATE labeling_annotationtag SET attributes = '{}' WHERE annotation_id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            sql(statement, [ann.pk])
    assert ann.boxes.count() == 3


def test_a_migration_keeps_change_verdicts_and_tag_attributes(project, users):
    """Tags of change classes carry a verdict (changed / unchanged); a migration writes it into the
    new revision like everything else (it used to drop it)."""
    v1 = services.create_ontology("Change watch")
    services.add_class(v1, key="car", name="Car")
    services.add_class(v1, key="moved", name="Moved", kind=LabelClass.CHANGE,
                       attributes=[{"key": "what", "type": "text", "max_length": 50}])
    v1 = services.publish(v1)
    v2 = services.derive(v1)
    services.add_class(v2, key="truck", name="Truck")
    v2 = services.publish(v2)
    seq = Sequence.objects.create(dataset=project.dataset, name="w", kind=Sequence.IMAGES, status=Sequence.READY,
                                  source_name="w.zip", source_sha256="0" * 64, source_size=1)
    frames = [Frame.objects.create(sequence=seq, index=i, source_index=i, sha256=f"{i + 7:064d}", width=100,
                                   height=100) for i in range(2)]
    cls = {c.key: c for c in v1.classes.all()}
    for frame, changed in zip(frames, (True, False)):
        ann = Annotation.objects.create(project=project, frame=frame, annotator=users["annotator"],
                                        ontology_version=v1, sequence=seq, frame_index=frame.index)
        AnnotationTag.objects.create(annotation=ann, label_class=cls["moved"], changed=changed,
                                     attributes={"what": "gate"} if changed else {})
        if changed:
            AnnotationBox.objects.create(annotation=ann, label_class=cls["moved"], x=1, y=1, w=5, h=5)
    migration = services.create_migration(v1, v2, {"car": "car", "moved": "moved"})
    assert ontology_migration.apply(migration) == 2
    heads = Annotation.objects.filter(ontology_version=v2, superseded_by__isnull=True).order_by("frame__index")
    got = [(h.frame.index, h.revision, h.sequence_id, [(t.label_class.key, t.changed, t.attributes) for t in h.tags.all()],
            h.boxes.count()) for h in heads]
    assert got == [(0, 2, seq.pk, [("moved", True, {"what": "gate"})], 1), (1, 2, seq.pk, [("moved", False, {})], 0)]
