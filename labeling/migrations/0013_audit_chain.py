"""A tamper-evident audit trail: one hash chain over every audit event of the installation,
signed heads (seals), and the project/dataset an event belongs to (for QA leads' audit pages).

The chain is written by the database, not by the application, and off the hot path: inserting
an event also inserts its id into labeling_auditpending (a plain row trigger, no lock), and
aerie_audit_link_pending() (celery beat every few seconds, and before every seal and
verification) links the committed pending events in id order under one advisory lock. Every way
an event is inserted (the ORM, the one-statement submission, raw SQL) is chained, a rolled-back
event never is, and no user transaction ever waits for the chain: linking it at each commit
instead serialised every commit's WAL flush behind that lock (bench/audit.py measured half the
concurrent submit throughput). Links and seals are append-only like the events themselves.

Existing events get their project/dataset derived from the objects they name (the one time a
migration writes to audit rows, before any of them is chained), then are chained in id order."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

#: the advisory lock that serialises chain appends (labeling.audit.CHAIN_LOCK)
CHAIN_LOCK = 7_262_021_735_441_870_436

CHAIN_SQL = f"""
CREATE OR REPLACE FUNCTION aerie_audit_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT length(coalesce(value, '')) || ':' || coalesce(value, '') $$;

-- Append one event to the chain; the message is labeling.audit.chain_message's, field by field.
CREATE OR REPLACE FUNCTION aerie_audit_append(e labeling_auditevent) RETURNS void AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    message text;
BEGIN
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    SELECT seq, hash INTO head_seq, head_hash FROM labeling_auditlink ORDER BY seq DESC LIMIT 1;
    IF head_seq IS NULL THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    message := head_hash
        || aerie_audit_field((head_seq + 1)::text)
        || aerie_audit_field(e.id::text)
        || aerie_audit_field(to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || aerie_audit_field(e.actor_id::text)
        || aerie_audit_field(e.verb)
        || aerie_audit_field(e.object_type)
        || aerie_audit_field(e.object_id)
        || aerie_audit_field(e.project_id::text)
        || aerie_audit_field(e.dataset_id::text)
        || aerie_audit_field(e.data::text);
    INSERT INTO labeling_auditlink (seq, event_id, prev_hash, hash)
    VALUES (head_seq + 1, e.id, head_hash, encode(sha256(convert_to(message, 'UTF8')), 'hex'));
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION aerie_audit_pend() RETURNS trigger AS $$
BEGIN
    INSERT INTO labeling_auditpending (event_id) VALUES (NEW.id);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Link up to max_events committed pending events, oldest id first; returns how many.
CREATE OR REPLACE FUNCTION aerie_audit_link_pending(max_events integer) RETURNS integer AS $$
DECLARE
    ids bigint[];
    e labeling_auditevent;
    n integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    WITH taken AS (
        DELETE FROM labeling_auditpending WHERE event_id IN (
            SELECT event_id FROM labeling_auditpending ORDER BY event_id LIMIT max_events)
        RETURNING event_id
    )
    SELECT array_agg(event_id ORDER BY event_id) INTO ids FROM taken;
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    FOR e IN SELECT * FROM labeling_auditevent WHERE id = ANY(ids) ORDER BY id LOOP
        PERFORM aerie_audit_append(e);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$ LANGUAGE plpgsql;

DO $$
DECLARE e labeling_auditevent;
BEGIN
    FOR e IN SELECT * FROM labeling_auditevent ORDER BY id LOOP
        PERFORM aerie_audit_append(e);
    END LOOP;
END $$;

CREATE TRIGGER labeling_auditevent_chain AFTER INSERT ON labeling_auditevent
    FOR EACH ROW EXECUTE FUNCTION aerie_audit_pend();
CREATE TRIGGER labeling_auditlink_append_only BEFORE UPDATE OR DELETE ON labeling_auditlink
    FOR EACH ROW EXECUTE FUNCTION aerie_append_only();
CREATE TRIGGER labeling_auditseal_append_only BEFORE UPDATE OR DELETE ON labeling_auditseal
    FOR EACH ROW EXECUTE FUNCTION aerie_append_only();
"""

CHAIN_REVERSE = """
DROP TRIGGER IF EXISTS labeling_auditseal_append_only ON labeling_auditseal;
DROP TRIGGER IF EXISTS labeling_auditlink_append_only ON labeling_auditlink;
DROP TRIGGER IF EXISTS labeling_auditevent_chain ON labeling_auditevent;
DROP FUNCTION IF EXISTS aerie_audit_link_pending(integer);
DROP FUNCTION IF EXISTS aerie_audit_pend();
DROP FUNCTION IF EXISTS aerie_audit_append(labeling_auditevent);
DROP FUNCTION IF EXISTS aerie_audit_field(text);
"""


def derive_scope(apps, schema_editor):
    """Fill project/dataset on the events recorded before this migration, from the objects they
    name (a project, a dataset, or anything with a project or dataset column) or from a
    'project' number in their data."""
    statements = []
    for model in apps.get_app_config("labeling").get_models():
        label, table, pk = model._meta.label_lower, model._meta.db_table, model._meta.pk.column
        fields = {f.name for f in model._meta.concrete_fields}
        if label == "labeling.project":
            statements.append(("project_id", "m.id", table, label, pk))
            statements.append(("dataset_id", "m.dataset_id", table, label, pk))
        elif label == "labeling.dataset":
            statements.append(("dataset_id", "m.id", table, label, pk))
        else:
            if "project" in fields:
                statements.append(("project_id", "m.project_id", table, label, pk))
            if "dataset" in fields:
                statements.append(("dataset_id", "m.dataset_id", table, label, pk))
    with schema_editor.connection.cursor() as cur:
        cur.execute("ALTER TABLE labeling_auditevent DISABLE TRIGGER labeling_auditevent_append_only")
        for column, value, table, label, pk in statements:
            cur.execute(
                f"UPDATE labeling_auditevent e SET {column} = {value} FROM {table} m "
                f"WHERE e.object_type = %s AND e.object_id = m.{pk}::text AND e.{column} IS NULL", [label])
        cur.execute("UPDATE labeling_auditevent SET project_id = (data->>'project')::bigint "
                    "WHERE project_id IS NULL AND jsonb_typeof(data->'project') = 'number'")
        cur.execute("ALTER TABLE labeling_auditevent ENABLE TRIGGER labeling_auditevent_append_only")


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0012_export_heartbeat'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditLink',
            fields=[
                ('seq', models.BigIntegerField(primary_key=True, serialize=False)),
                ('prev_hash', models.CharField(max_length=64)),
                ('hash', models.CharField(max_length=64)),
            ],
            options={
                'ordering': ['seq'],
            },
        ),
        migrations.CreateModel(
            name='AuditPending',
            fields=[
                ('event', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='labeling.auditevent')),
            ],
        ),
        migrations.CreateModel(
            name='AuditSeal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.BigIntegerField()),
                ('hash', models.CharField(max_length=64)),
                ('at', models.DateTimeField()),
                ('key_id', models.CharField(max_length=16)),
                ('signature', models.TextField()),
            ],
            options={
                'ordering': ['-seq', '-id'],
            },
        ),
        migrations.CreateModel(
            name='LoginThrottle',
            fields=[
                ('key', models.CharField(max_length=200, primary_key=True, serialize=False)),
                ('failures', models.PositiveIntegerField(default=0)),
                ('window_start', models.DateTimeField()),
                ('locked_until', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='auditevent',
            name='dataset',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='labeling.dataset'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='project',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='labeling.project'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['project', 'id'], name='labeling_audit_project_id'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['dataset', 'id'], name='labeling_audit_dataset_id'),
        ),
        migrations.AddField(
            model_name='auditlink',
            name='event',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='link', to='labeling.auditevent'),
        ),
        migrations.AddField(
            model_name='auditseal',
            name='sealed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(derive_scope, migrations.RunPython.noop),
        migrations.RunSQL(CHAIN_SQL, CHAIN_REVERSE),
    ]
