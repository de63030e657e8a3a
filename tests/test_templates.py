"""Template source rules that Django does not enforce: a `{# … #}` comment must end on its own
line (a multi-line one is printed on the page as text; use {% comment %})."""
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "frontend" / "templates"


def test_no_template_comment_spans_lines():
    broken = [f"{path.relative_to(TEMPLATES)}:{n}" for path in TEMPLATES.rglob("*.html")
              for n, line in enumerate(path.read_text().splitlines(), start=1)
              if line.count("{#") > line.count("#}")]
    assert not broken, f"multi-line {{# #}} comments are shown on the page: {broken}"
