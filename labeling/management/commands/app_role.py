import os

from django.core.management.base import BaseCommand, CommandError

from labeling.access import database_role


class Command(BaseCommand):
    help = ("Create (or update) the database role the web server and workers should connect as: it reads "
            "and writes the working tables, only appends to history and the audit trail, and owns nothing, "
            "so it cannot TRUNCATE, ALTER or DROP. Run as the tables' owner, again after each migrate.")

    def add_arguments(self, parser):
        parser.add_argument("role", help="the role's name, e.g. aerie_app")
        parser.add_argument("--password-env", metavar="VAR",
                            help="set the role's password from this environment variable")

    def handle(self, *args, role, password_env, **options):
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"{password_env} is not set or empty")
        try:
            granted = database_role.grant_app_role(role, password)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        append_only = sorted(t for t, p in granted.items() if "UPDATE" not in p or "DELETE" not in p)
        self.stdout.write(f"role {role}: {len(granted)} tables; append-only for it: {', '.join(append_only)}")
