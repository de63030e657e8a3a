from django.apps import AppConfig


class FrontendConfig(AppConfig):
    name = "frontend"

    def ready(self):
        from django.contrib import admin

        from .login_views import AdminLoginForm

        admin.site.login_form = AdminLoginForm  # the admin's sign-in is throttled like aerie's
