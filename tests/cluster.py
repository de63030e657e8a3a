"""aerie with its parts on several "machines", for the multi-machine test: each web server, Celery
worker and beat is a process of its own, started from a folder of its own (its working directory
and AERIE_VAR_DIR: its scratch space, its own copy of the key files, and a local media folder it
must never need). What they share is what machines share in production: PostgreSQL (through
PgBouncer in transaction mode), a broker (RabbitMQ or Redis) and an S3-protocol object store
(moto's standalone server, tests/s3server.py).

    bouncer = PgBouncer.start(folder, connection.settings_dict)  # Debian's pgbouncer in front of the database
    env = Shared(...).environment(machine_dir)   # the settings every machine gets
    web = Web.spawn("web-a", env, folder)        # gunicorn on a free port: web.url
    worker = Worker.spawn("worker-a", env, folder)
    wait_ready([web, worker])
    worker.kill()                                # SIGKILL, as a machine that loses power
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PGBOUNCER = "/usr/sbin/pgbouncer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str, interval: float = 0.1, proc=None, log: Path | None = None):
    """Poll `check()` until it returns something true; fail with the process's log on a timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}\n{tail(log)}")
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s\n{tail(log)}")


def tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Process:
    name: str
    folder: Path
    proc: subprocess.Popen
    log: Path
    port: int | None = None
    remove: Path | None = None  # a folder of its own that goes when it stops
    ready: object = None  # () -> bool: whether it serves yet

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the process and everything it started, as a machine that loses power."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self._clean()

    def _clean(self) -> None:
        if self.remove is not None:
            shutil.rmtree(self.remove, ignore_errors=True)

    def logged(self, text: str) -> bool:
        return self.log.exists() and text in self.log.read_text(errors="replace")


def _spawn(name: str, folder: Path, argv: list[str], env: dict, port: int | None = None) -> Process:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: kill() takes its children too
    return Process(name, folder, proc, log, port)


class PgBouncer:
    """Debian's PgBouncer in transaction pooling mode in front of the local PostgreSQL."""

    @staticmethod
    def start(folder: Path, upstream: dict) -> Process:
        """PgBouncer in front of the database Django's `upstream` settings (HOST, PORT, USER) name:
        PostgreSQL over TCP, or over a Unix socket (HOST a folder: `make test`'s embedded server).
        `folder` holds its configuration. As root, PgBouncer (which refuses to run as root) drops
        to the user that owns the socket folder (else `postgres`) and works in a folder of that
        user's instead (pytest's temporary folders are root's alone)."""
        if not os.access(PGBOUNCER, os.X_OK):
            raise RuntimeError(f"{PGBOUNCER} is missing: `make test` installs Debian's pgbouncer")
        host = upstream.get("HOST") or "127.0.0.1"
        role = upstream.get("USER") or "postgres"
        as_root = os.getuid() == 0
        if as_root:
            owner = pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "postgres"
            folder = Path(tempfile.mkdtemp(prefix="aerie-pgbouncer-"))
            shutil.chown(folder, owner)
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        (folder / "userlist.txt").write_text(f'"{role}" ""\n')
        lines = [
            "[databases]", f"* = host={host} port={upstream.get('PORT') or 5432} user={role}",
            "[pgbouncer]", "listen_addr = 127.0.0.1", f"listen_port = {port}", "unix_socket_dir =",
            "auth_type = trust", f"auth_file = {folder / 'userlist.txt'}", "pool_mode = transaction",
            "max_client_conn = 400", "default_pool_size = 20", "server_reset_query =",
        ]
        if as_root:
            lines.append(f"user = {owner}")
        (folder / "pgbouncer.ini").write_text("\n".join(lines) + "\n")
        if as_root:
            for name in ("pgbouncer.ini", "userlist.txt"):
                shutil.chown(folder / name, owner)
        process = _spawn("pgbouncer", folder, [PGBOUNCER, str(folder / "pgbouncer.ini")], dict(os.environ), port)
        process.remove = folder if as_root else None
        wait_for(lambda: answers(port), 20, "pgbouncer", proc=process.proc, log=process.log)
        return process


def answers(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Shared:
    """What every machine is configured with: the database (through the pooler), the broker, the
    bucket, the secret key, and the key files (each machine gets its own copy)."""
    database_url: str
    broker_url: str
    s3_endpoint: str
    bucket: str
    signing_key: Path
    data_key: Path
    secret_key: str = "multi-machine-test-secret-key-shared-by-every-machine"
    extra: dict = field(default_factory=dict)

    def environment(self, folder: Path) -> dict:
        keys = folder / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.signing_key, keys / self.signing_key.name)
        shutil.copy(self.data_key, keys / "data.key")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AERIE_", "CELERY_", "AWS_", "DATABASE_URL", "PYTEST", "DJANGO_"))}
        env.update({
            "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url, "AERIE_TRANSACTION_POOLER": "true",
            "CELERY_BROKER_URL": self.broker_url,
            "AERIE_VAR_DIR": str(folder / "var"),
            "AERIE_S3_BUCKET": self.bucket, "AERIE_S3_ENDPOINT_URL": self.s3_endpoint, "AERIE_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AERIE_SECRET_KEY": self.secret_key,
            "AERIE_SIGNING_KEY_FILE": str(keys / self.signing_key.name), "AERIE_SIGNING_KEY_DIR": str(keys),
            "AERIE_DATA_KEY_FILE": str(keys / "data.key"),
            "AERIE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            **self.extra,
        })
        return env


class Web:
    @staticmethod
    def spawn(name: str, env: dict, folder: Path) -> Process:
        """gunicorn on a free port; ready once its sign-in page answers."""
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--worker-class", "gthread", "--threads", "4", "--timeout", "120"]
        process = _spawn(name, folder, argv, env, port)
        process.ready = lambda: _get_status(f"{process.url}/login/") == 200
        return process


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status
    except OSError:
        return None


class Worker:
    @staticmethod
    def spawn(name: str, env: dict, folder: Path) -> Process:
        """A Celery worker on both queues, one task at a time in its own process (`solo`: the pid
        that claims a chunk is this process's, so the test knows whose work is whose)."""
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery,bulk", "--pool", "solo",
                "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        process = _spawn(name, folder, argv, env)
        process.ready = lambda: process.logged("ready.")
        return process


class Beat:
    @staticmethod
    def spawn(name: str, env: dict, folder: Path) -> Process:
        argv = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                "-s", str(folder / "celerybeat-schedule")]
        process = _spawn(name, folder, argv, env)
        process.ready = lambda: process.logged("beat: Starting")
        return process


def wait_ready(processes: list[Process], timeout: float = 120) -> None:
    """Wait until every process started together is ready (they start side by side: a machine's
    start-up is mostly imports)."""
    for process in processes:
        wait_for(process.ready, timeout, process.name, interval=0.2, proc=process.proc, log=process.log)


def manage(env: dict, folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`manage.py ARGS` on a machine of its own (an operator's), with the shared settings."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=timeout)
