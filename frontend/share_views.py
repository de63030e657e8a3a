"""The one page a share's token opens: its download (no sign-in; the token reaches nothing else)."""
from django.http import FileResponse, HttpResponseNotFound
from django.views.decorators.http import require_GET

from labeling.exchange import shares


@require_GET
def share_download(request, token):
    try:
        share, fh = shares.download(token, client=request.META.get("REMOTE_ADDR", ""))
    except shares.Gone:
        return HttpResponseNotFound("This link does not open anything: it is unknown, expired or revoked. "
                                    "Ask whoever shared it for a new one.", content_type="text/plain")
    version = share.derived_version
    name = f"{version.dataset.name}-derived-v{version.number}.zip".replace(" ", "_").replace("/", "_")
    return FileResponse(fh, as_attachment=True, filename=name, content_type="application/zip")
