"""Shared set-up for benchmarks: a throw-away database on the configured PostgreSQL server (or
the embedded one) and a throw-away var/ directory, both removed afterwards."""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
# bench/queue.py would shadow the standard library's queue module (psycopg and Celery import it):
# look in this folder last. Bench scripts import this module before anything else.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
sys.path.insert(0, str(ROOT))


def emit(key: str, value) -> None:
    if isinstance(value, float):
        value = f"{value:.3f}"
    print(f"BENCH {key}={value}", flush=True)


@contextlib.contextmanager
def django_environment():
    import dj_database_url
    import psycopg

    from config import embedded_pg

    base_url = os.environ.get("DATABASE_URL") or embedded_pg.ensure_running()
    params = dj_database_url.parse(base_url)
    name = f"aerie_bench_{uuid.uuid4().hex[:8]}"
    conninfo = dict(host=params["HOST"] or None, port=params["PORT"] or None, user=params["USER"] or None,
                    password=params["PASSWORD"] or None)
    conninfo = {k: v for k, v in conninfo.items() if v}
    with psycopg.connect(dbname=params["NAME"], autocommit=True, **conninfo) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    from config import embedded

    var_dir = embedded.prepare_var(Path(tempfile.mkdtemp(prefix="aerie-bench-")))
    env_before = dict(os.environ)
    os.environ.update({"DATABASE_URL": base_url.rsplit("/", 1)[0] + "/" + name, "AERIE_VAR_DIR": str(var_dir),
                       "DJANGO_SETTINGS_MODULE": "config.settings", "AERIE_LOG_LEVEL": "WARNING"})
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield var_dir
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(dbname=params["NAME"], autocommit=True, **conninfo) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(var_dir, ignore_errors=True)
        os.environ.clear()
        os.environ.update(env_before)


def untrained_detector(project, seed: int = 0):
    """A signed Faster R-CNN MobileNetV3 with seeded random weights (nothing is downloaded),
    registered on `project` for its detector classes, not made current."""
    import io

    import torch

    from labeling.sampling import registry, training

    arch = "fasterrcnn_mobilenet_v3_large_320_fpn"
    class_map = training.class_map_for(project, "detector")
    buffer = io.BytesIO()
    torch.manual_seed(seed)
    torch.save(registry.build(arch, len(class_map)).state_dict(), buffer)
    data = buffer.getvalue()
    return registry.register(project, data, architecture=arch, class_map=class_map,
                             signature=registry.sign(data, arch, class_map))
