"""The timeline is append-only in the database too (PostgreSQL): no UPDATE, no DELETE."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION disputes_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'disputes_disputeevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER disputes_event_append_only
    BEFORE UPDATE OR DELETE ON disputes_disputeevent
    FOR EACH ROW EXECUTE FUNCTION disputes_event_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS disputes_event_append_only ON disputes_disputeevent;
DROP FUNCTION IF EXISTS disputes_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("disputes", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
