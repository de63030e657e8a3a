#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL"):
        # a developer's machine: the embedded defaults, as `make run` uses them (var/, the secret
        # key, the embedded PostgreSQL under var/pg, started if it is not running)
        from config import embedded

        os.environ.update(embedded.prepare())
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
