"""`make run`: the aerie server with demo data on the embedded defaults.

Starts (or reuses) PostgreSQL — DATABASE_URL if set, else the embedded server under var/pg —,
migrates, loads the demo, starts a Celery worker (with the beat scheduler) and the web server on 127.0.0.1:8000,
then trains the demo's first model in the background (`manage.py demo_first_model`, once), and
stops everything it started on Ctrl-C. Running it again reuses what is there."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import embedded, embedded_pg  # noqa: E402

PY = sys.executable
HOST = os.environ.get("AERIE_HOST", "127.0.0.1")
PORT = os.environ.get("AERIE_PORT", "8000")


def main() -> int:
    started_db = not os.environ.get("DATABASE_URL") and not embedded_pg.is_running()
    if not os.environ.get("DATABASE_URL"):
        print("aerie: starting the embedded PostgreSQL under var/pg …", flush=True)
    env = embedded.prepare()  # var/, the secret key, and a database (DATABASE_URL, else the embedded one)
    manage = [PY, str(ROOT / "manage.py")]
    children: list[subprocess.Popen] = []
    background: list[subprocess.Popen] = []  # one-off jobs: their end does not stop the server

    def stop(*_):
        for child in background + children:
            if child.poll() is None:
                child.terminate()
        for child in background + children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_db:
            print("aerie: stopping the embedded PostgreSQL", flush=True)
            embedded_pg.stop()

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        subprocess.run(manage + ["migrate", "--noinput"], env=env, check=True, cwd=ROOT)
        subprocess.run(manage + ["collectstatic", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
        children.append(subprocess.Popen(
            [PY, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency",
             os.environ.get("AERIE_WORKERS", "2"),
             # the embedded beat: scoring housekeeping (resume dead workers' chunks, re-score)
             "--beat", "--schedule", str(ROOT / "var" / "celerybeat-schedule")], env=env, cwd=ROOT,
        ))
        subprocess.run(manage + ["load_demo"], env=env, check=True, cwd=ROOT)
        children.append(subprocess.Popen(
            [PY, "-m", "gunicorn", "config.wsgi", "--bind", f"{HOST}:{PORT}", "--workers",
             os.environ.get("AERIE_WEB_WORKERS", "2"), "--worker-class", "gthread", "--threads", "8",
             "--timeout", "300", "--access-logfile", "-"],
            env=env, cwd=ROOT,
        ))
        time.sleep(1.5)
        print(f"\naerie is running on http://{HOST}:{PORT}/   (API docs: http://{HOST}:{PORT}/api/docs/)", flush=True)
        print("Sign in as admin, annotator1, annotator2, qa or trainer; password: aerie-demo-pass", flush=True)
        background.append(first_model(manage, env))
        print("Press Ctrl-C to stop.\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(1)
        print("aerie: a process stopped; shutting down", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\naerie: stopping …", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"aerie: {' '.join(map(str, exc.cmd[1:3]))} failed (exit {exc.returncode})", file=sys.stderr)
        return exc.returncode
    finally:
        stop()


def first_model(manage: list[str], env: dict) -> subprocess.Popen:
    """Train the demo's first model in the background, once the server is up (it does nothing
    once the demo has a model); its output goes to var/demo_first_model.log."""
    log_path = ROOT / "var" / "demo_first_model.log"
    print(f"aerie: training the demo's first model in the background (log: {log_path.relative_to(ROOT)})", flush=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(manage + ["demo_first_model"], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=lambda: os.nice(10))  # the server comes first


if __name__ == "__main__":
    sys.exit(main())
