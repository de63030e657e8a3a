"""Importing the settings only reads configuration: it starts no process and writes no file.
What the embedded defaults need (var/, the secret key, the embedded PostgreSQL) is made by
config.embedded, before Django starts."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT_SETTINGS = """
import json, os, psutil
me = psutil.Process()
before = {p.pid for p in me.children(recursive=True)}
try:
    import config.settings as s
    db = s.DATABASES["default"]
    outcome = {"ok": True, "static": str(s.STATIC_ROOT), "db": db["NAME"], "options": db["OPTIONS"],
               "server_side_cursors": not db.get("DISABLE_SERVER_SIDE_CURSORS", False),
               "prepared": s.AERIE_PREPARED_STATEMENTS}
except Exception as exc:
    outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
outcome["new_processes"] = len({p.pid for p in me.children(recursive=True)} - before)
print(json.dumps(outcome))
"""


def import_settings(var: Path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AERIE_SECRET_KEY")}
    clean.update(AERIE_VAR_DIR=str(var), **env)
    out = subprocess.run([sys.executable, "-c", IMPORT_SETTINGS], cwd=ROOT, env=clean, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_settings_starts_nothing_and_writes_nothing(tmp_path):
    var = tmp_path / "var"
    outcome = import_settings(var, DATABASE_URL="postgres://nobody@127.0.0.1:1/aerie", AERIE_SECRET_KEY="k" * 50,
                              CELERY_BROKER_URL="filesystem://")
    assert outcome["ok"] and outcome["db"] == "aerie" and outcome["new_processes"] == 0
    assert not var.exists(), f"the settings wrote {sorted(var.rglob('*'))}"


def test_without_a_database_or_a_key_the_settings_say_what_to_do(tmp_path):
    var = tmp_path / "var"
    no_db = import_settings(var, AERIE_SECRET_KEY="k" * 50)
    assert not no_db["ok"] and "DATABASE_URL" in no_db["error"] and "config.embedded run" in no_db["error"]
    no_key = import_settings(var, DATABASE_URL="postgres://nobody@127.0.0.1:1/aerie")
    assert not no_key["ok"] and "AERIE_SECRET_KEY" in no_key["error"] and "make run" in no_key["error"]
    assert no_db["new_processes"] == no_key["new_processes"] == 0 and not var.exists()


def test_the_embedded_defaults_prepare_what_the_settings_read(tmp_path):
    from config import embedded

    var = embedded.prepare_var(tmp_path / "var")
    key = (var / "secret_key").read_text()
    assert len(key) >= 50 and oct((var / "secret_key").stat().st_mode)[-3:] == "600"
    assert all((var / sub).is_dir() for sub in ("static", "uploads", "celery/queue", "celery/processed"))
    embedded.prepare_var(var)  # again: the key stays
    assert (var / "secret_key").read_text() == key
    outcome = import_settings(var, DATABASE_URL="postgres://nobody@127.0.0.1:1/aerie")
    assert outcome["ok"] and outcome["static"] == str(var / "static")


def test_behind_a_transaction_pooler_nothing_relies_on_session_state(tmp_path):
    base = {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/aerie", "AERIE_SECRET_KEY": "k" * 50}
    direct = import_settings(tmp_path / "var", **base)
    assert direct["server_side_cursors"] and direct["prepared"]
    assert "plan_cache_mode=force_generic_plan" in direct["options"]["options"]
    pooled = import_settings(tmp_path / "var", **base, AERIE_TRANSACTION_POOLER="true")
    assert not pooled["server_side_cursors"] and not pooled["prepared"] and "options" not in pooled["options"]
    # a pooler that carries prepared statements (PgBouncer 1.21+): the operator says so
    carried = import_settings(tmp_path / "var", **base, AERIE_TRANSACTION_POOLER="true", AERIE_PREPARED_STATEMENTS="true")
    assert carried["prepared"] and not carried["server_side_cursors"]
