"""API tokens for scripts: the same sign-in throttle as the pages (a locked-out username or
address gets 429 with Retry-After before any password is checked), and an audited sign-in."""
from django.utils import timezone
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response

from labeling import audit
from labeling.access import signin_guard


class TokenView(ObtainAuthToken):
    def post(self, request, *args, **kwargs):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        until = signin_guard.locked_until(request, username)
        if until is not None:
            response = Response({"detail": signin_guard.refusal(until)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
            response["Retry-After"] = str(max(1, int((until - timezone.now()).total_seconds())))
            return response
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)  # a failure is counted by Django's user_login_failed
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        signin_guard.succeeded(request, user.get_username())
        audit.record(user, "auth.login", user, {"ip": signin_guard.client_ip(request), "via": "token"})
        return Response({"token": token.key})
