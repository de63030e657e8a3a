"""Published ontology versions are immutable in the database itself: raw SQL is refused too."""
from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION aerie_ontology_version_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'ontology version % is published and immutable', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER ontology_version_immutable
    BEFORE UPDATE OR DELETE ON ontology_ontologyversion
    FOR EACH ROW EXECUTE FUNCTION aerie_ontology_version_guard();

CREATE OR REPLACE FUNCTION aerie_label_class_guard() RETURNS trigger AS $$
DECLARE
    touched bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN touched := ARRAY[NEW.version_id];
    ELSIF TG_OP = 'UPDATE' THEN touched := ARRAY[OLD.version_id, NEW.version_id];
    ELSE touched := ARRAY[OLD.version_id];
    END IF;
    IF EXISTS (SELECT 1 FROM ontology_ontologyversion v WHERE v.id = ANY(touched) AND v.status = 'published') THEN
        RAISE EXCEPTION 'label classes of a published ontology version are immutable'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER label_class_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON ontology_labelclass
    FOR EACH ROW EXECUTE FUNCTION aerie_label_class_guard();
"""

REVERSE = """
DROP TRIGGER IF EXISTS label_class_immutable ON ontology_labelclass;
DROP TRIGGER IF EXISTS ontology_version_immutable ON ontology_ontologyversion;
DROP FUNCTION IF EXISTS aerie_label_class_guard();
DROP FUNCTION IF EXISTS aerie_ontology_version_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("ontology", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
