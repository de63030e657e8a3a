"""Nobody without raw access ever receives a raw image. A crawler signs in as each role without
raw access, follows every page, API and admin link it can reach from the home page, the API root
and the admin index (and asks for a reveal of every sensitive frame it meets, then follows it),
and checks that no image it was served, and no image inside an export it downloaded, has the bytes
of a raw frame, thumbnail or preview (sha256 compared)."""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections import deque

import pytest
from rest_framework.test import APIClient

from labeling.access import cache
from labeling.footage import blobstore
from labeling.models import Frame, RawAccessGrant
from tests import permission_world
from tests.permission_world import isolated_media, world  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

LINK = re.compile(r'''(?:href|src|data-[a-z-]+|hx-get)="(/[^"#]*)"''')
NUMBER = re.compile(r"\d+")
PER_PATTERN = 3  # the same page with other ids adds nothing but time
LIMIT = 700
NEVER = ("/logout/", "/admin/logout/", "/static/", "/api/schema/", "/api/docs/", "/admin/jsi18n/")
REVEAL = re.compile(r"^/frames/(\d+)/original")


def raw_hashes() -> dict[str, str]:
    """sha256 of every raw blob a frame has (original, thumbnail, preview) -> what it is."""
    out = {}
    for frame in Frame.objects.all():
        for kind, name in (("original", frame.image_name), ("thumbnail", frame.thumbnail_name),
                           ("preview", frame.preview_name)):
            if blobstore.exists(name):
                with blobstore.open_blob(name) as fh:
                    out[hashlib.sha256(fh.read()).hexdigest()] = f"frame {frame.pk} {kind}"
    return out


def body(response) -> bytes:
    return b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content


def links_in(response, text: bytes) -> list[str]:
    kind = response.get("Content-Type", "")
    if "html" in kind:
        return LINK.findall(text.decode("utf-8", "replace"))
    if "json" in kind:
        found = []

        def walk(value):
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, str):
                if value.startswith("http://testserver/"):
                    found.append(value[len("http://testserver"):])
                elif value.startswith("/") and not value.startswith("//"):
                    found.append(value)

        try:
            walk(json.loads(text))
        except ValueError:
            pass
        return found
    return []


def images_in(response, text: bytes) -> list[tuple[str, bytes]]:
    kind = response.get("Content-Type", "")
    if kind.startswith("image/"):
        return [("", text)]
    if kind in ("application/zip", "application/x-zip-compressed") or text[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(text)) as zf:
                return [(name, zf.read(name)) for name in zf.namelist()
                        if name.lower().endswith((".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"))]
        except zipfile.BadZipFile:
            return []
    return []


def crawl(user, raw: dict[str, str], project_id: int) -> tuple[list[str], int, int]:
    client = APIClient()
    client.force_login(user)
    seen, per_pattern, leaks, images = set(), {}, [], 0
    todo = deque(["/", "/api/", "/admin/", f"/projects/{project_id}/label/"])
    revealed = set()
    while todo and len(seen) < LIMIT:
        url = todo.popleft()
        if url in seen or any(url.startswith(p) for p in NEVER):
            continue
        pattern = NUMBER.sub("N", url.split("?")[0])
        if per_pattern.get(pattern, 0) >= PER_PATTERN and not REVEAL.match(url):
            continue
        seen.add(url)
        per_pattern[pattern] = per_pattern.get(pattern, 0) + 1
        response = client.get(url)
        if response.status_code >= 500:
            leaks.append(f"{url}: {response.status_code}")
            continue
        if response.status_code != 200:
            continue
        text = body(response)
        for name, data in images_in(response, text):
            images += 1
            what = raw.get(hashlib.sha256(data).hexdigest())
            if what:
                leaks.append(f"{url}{' ' + name if name else ''}: the raw {what}")
        for link in links_in(response, text):
            match = REVEAL.match(link)
            if match and match.group(1) not in revealed:  # a sensitive original: ask for a reveal as the page does
                revealed.add(match.group(1))
                for project in client.get("/api/projects/").json().get("results", []):
                    answer = client.post(f"/api/projects/{project['id']}/frames/{match.group(1)}/reveal/")
                    if answer.status_code == 201 and answer.json().get("url"):
                        todo.appendleft(answer.json()["url"])
            todo.append(link)
    return leaks, len(seen), images


@pytest.mark.parametrize("role", ["annotator", "qa", "trainer", "admin"])
def test_nobody_without_raw_access_receives_a_raw_image(world, role):  # noqa: F811
    from labeling.protection import state as protection_state

    user = world.users[role]
    RawAccessGrant.objects.filter(user=user).update(revoked_at="2026-01-01T00:00:00Z")
    cache.clear()
    protection_state.set_consent(user, True, None)  # reveals allowed: they must serve derived frames
    leaks, pages, images = crawl(user, raw_hashes(), world.ids["project"])
    assert pages > 30 and images > 5, f"the crawl reached too little ({pages} URLs, {images} images)"
    assert not leaks, "\n".join(leaks[:20])


def test_the_crawler_finds_raw_images_when_they_are_served(world):  # noqa: F811
    """The check can fail: someone holding raw access is served raw originals."""
    user = world.users["qa"]
    assert RawAccessGrant.objects.filter(user=user, revoked_at__isnull=True).exists()
    cache.clear()
    leaks, _, _ = crawl(user, raw_hashes(), world.ids["project"])
    assert any("raw frame" in leak for leak in leaks)
