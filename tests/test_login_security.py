"""Sign-in hardening: lockout per username and per address (same answer whether or not the user
exists), the API token endpoint throttled alike, sign-ins audited, and security headers on
every answer."""
from __future__ import annotations

import pytest
from django.test import Client, override_settings

from labeling.models import AuditEvent, LoginThrottle

PASSWORD = "correct-horse-battery"


def attempt(client, username, password, ip="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@override_settings(AERIE_LOGIN_MAX_FAILURES=3, AERIE_LOGIN_MAX_FAILURES_PER_IP=100)
@pytest.mark.parametrize("exists", [True, False])
def test_a_username_is_locked_after_repeated_failures_and_says_so(users, exists):
    client = Client()
    name = users["annotator"].username if exists else "nobody-here"
    for _ in range(3):
        response = attempt(client, name, "wrong password")
        assert response.status_code == 200
        assert "That username and password do not match" in response.content.decode()
    response = attempt(client, name, PASSWORD)  # even the right password, while locked
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed sign-in attempts for this username or from this address" in text
    assert "_auth_user_id" not in client.session
    # another username from the same address is not affected
    assert attempt(client, users["qa"].username, PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(verb="auth.login_failed", data__username=name).count() == 3
    assert AuditEvent.objects.filter(verb="auth.lockout", data__username=name, data__key="user").count() == 1


@override_settings(AERIE_LOGIN_MAX_FAILURES=3)
def test_the_lock_lifts_and_a_success_clears_the_count(users):
    client = Client()
    name = users["annotator"].username
    for _ in range(2):
        attempt(client, name, "wrong")
    assert attempt(client, name, PASSWORD).status_code == 302
    assert not LoginThrottle.objects.filter(key=f"user:{name}").exists()
    for _ in range(3):
        attempt(Client(), name, "wrong")
    assert attempt(Client(), name, PASSWORD).status_code == 429
    LoginThrottle.objects.filter(key=f"user:{name}").update(locked_until="2000-01-01T00:00Z",
                                                            window_start="2000-01-01T00:00Z")
    assert attempt(Client(), name, PASSWORD).status_code == 302


@override_settings(AERIE_LOGIN_MAX_FAILURES=100, AERIE_LOGIN_MAX_FAILURES_PER_IP=4)
def test_an_address_guessing_many_usernames_is_locked(users):
    client = Client()
    for i in range(4):
        attempt(client, f"guess{i}", "wrong", ip="192.0.2.7")
    assert attempt(client, users["qa"].username, PASSWORD, ip="192.0.2.7").status_code == 429
    assert attempt(client, users["qa"].username, PASSWORD, ip="192.0.2.8").status_code == 302
    assert AuditEvent.objects.filter(verb="auth.lockout", data__key="ip", data__ip="192.0.2.7").exists()


@override_settings(AERIE_LOGIN_MAX_FAILURES=100, AERIE_LOGIN_MAX_FAILURES_PER_IP=2, AERIE_PROXY_HOPS=1)
def test_behind_a_proxy_the_forwarded_address_counts_not_one_the_client_made_up(users):
    client = Client()
    for _ in range(2):  # the client claims 1.1.1.1; the proxy appended the real 198.51.100.9
        client.post("/login/", {"username": "x", "password": "y"}, REMOTE_ADDR="127.0.0.1",
                    HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.9")
    assert LoginThrottle.objects.filter(key="ip:198.51.100.9", failures=2).exists()
    assert not LoginThrottle.objects.filter(key="ip:1.1.1.1").exists()


@override_settings(AERIE_LOGIN_MAX_FAILURES=2)
def test_the_api_token_endpoint_is_throttled_and_audited(users):
    client = Client()
    name = users["trainer"].username
    assert client.post("/api/auth/token/", {"username": name, "password": PASSWORD}).status_code == 200
    assert AuditEvent.objects.filter(verb="auth.login", actor=users["trainer"], data__via="token").exists()
    for _ in range(2):
        assert client.post("/api/auth/token/", {"username": name, "password": "nope"}).status_code == 400
    response = client.post("/api/auth/token/", {"username": name, "password": PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in response.json()["detail"]


@override_settings(AERIE_LOGIN_MAX_FAILURES=2)
def test_the_admin_sign_in_is_throttled_too(users):
    client = Client()
    name = users["admin"].username
    for _ in range(2):
        client.post("/admin/login/", {"username": name, "password": "nope"})
    response = client.post("/admin/login/", {"username": name, "password": PASSWORD})
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_and_out_are_audited(users):
    client = Client()
    assert attempt(client, users["qa"].username, PASSWORD, ip="203.0.113.5").status_code == 302
    event = AuditEvent.objects.get(verb="auth.login", actor=users["qa"])
    assert event.data == {"ip": "203.0.113.5", "via": "session"} and event.object_id == str(users["qa"].pk)
    client.post("/logout/")
    assert AuditEvent.objects.filter(verb="auth.logout", actor=users["qa"]).exists()


def test_admin_changes_are_audited(users):
    client = Client()
    users["admin"].is_superuser = True
    users["admin"].save()
    client.force_login(users["admin"])
    assert client.post("/admin/auth/group/add/", {"name": "auditors"}).status_code == 302
    event = AuditEvent.objects.get(verb="admin.add", actor=users["admin"])
    assert event.object_type == "auth.group" and event.data["object"] == "auditors"


def test_security_headers(users, client):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp
    assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_session_and_csrf_settings():
    from django.conf import settings

    assert settings.SESSION_COOKIE_HTTPONLY and settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert settings.CSRF_COOKIE_SAMESITE == "Lax" and settings.SESSION_COOKIE_AGE <= 24 * 3600
    names = {v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert {"MinimumLengthValidator", "CommonPasswordValidator", "UserAttributeSimilarityValidator",
            "NumericPasswordValidator"} <= names


def test_weak_passwords_are_refused():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("password123", "12345678901", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("a much longer passphrase 7")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_api_docs_admin_and_sign_in_work_under_the_csp_and_refuse_framing(page, login, live_server, users):
    """The `page` fixture fails on any Content-Security-Policy refusal."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", users["admin"].username)
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    login(users["admin"])
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .opblock-tag").first).to_be_visible()
    users["admin"].is_superuser = True
    users["admin"].save()
    page.goto(f"{live_server.url}/admin/labeling/auditevent/")
    expect(page.locator("#changelist")).to_be_visible()
    # a page that frames aerie gets nothing: the browser refuses (frame-ancestors 'none')
    page.set_content(f'<iframe id="f" src="{live_server.url}/login/"></iframe>')
    page.wait_for_timeout(1000)
    framing = [m for m in page.csp_refused if "frame-ancestors" in m]
    assert framing
    for m in framing:
        page.csp_refused.remove(m)
    assert page.frame_locator("#f").locator("#id_username").count() == 0
