"""History is append-only in the database itself: annotation revisions, their boxes and tags,
dataset versions and audit events refuse UPDATE and DELETE, whoever sends the SQL."""
from django.db import migrations

TABLES = [
    "labeling_annotation",
    "labeling_annotationbox",
    "labeling_annotationtag",
    "labeling_datasetversion",
    "labeling_datasetversion_sequences",
    "labeling_auditevent",
]

FUNCTION = r"""
CREATE OR REPLACE FUNCTION aerie_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: rows are immutable (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
"""

SQL = FUNCTION + "".join(
    f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
    f"FOR EACH ROW EXECUTE FUNCTION aerie_append_only();\n"
    for t in TABLES
)
REVERSE = "".join(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};\n" for t in TABLES) + (
    "DROP FUNCTION IF EXISTS aerie_append_only();"
)


class Migration(migrations.Migration):
    dependencies = [("labeling", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
