"""Sign-in pages (aerie's and the admin's) refuse a locked-out username or address with a clear
message before any password is checked (labeling.access.signin_guard); a wrong password reads the same
whether or not the username exists."""
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from labeling.access import signin_guard

INVALID = "That username and password do not match. Try again."


class _Guarded:
    def clean(self):
        until = signin_guard.locked_until(self.request, self.cleaned_data.get("username"))
        if until is not None:
            raise ValidationError(signin_guard.refusal(until), code="locked")
        return super().clean()


class LoginForm(_Guarded, AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, "invalid_login": INVALID, "inactive": INVALID}


class AdminLoginForm(_Guarded, AdminAuthenticationForm):
    pass


def locked(form) -> bool:
    return any(e.code == "locked" for e in form.non_field_errors().as_data())


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "frontend/login.html"

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if locked(form):
            response.status_code = 429
        return response
