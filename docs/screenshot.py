"""Screenshots of a Snakemake report opened in headless Chromium (for README).

The report is a single-page app without URL routing, so a copy of it gets a script that waits for
the app and opens one result; Chromium then renders that copy. Needs Debian's
`chromium-headless-shell` (apt-get install -y chromium-headless-shell); nothing is downloaded.

Usage: python docs/screenshot.py report.html OUT_DIR [NAME=CATEGORY:FILENAME ...]
default shots: summary (1. Summary: summary.html), budget (2. Equal-compute comparison: budget.png)
and units (4. Attributions: units_top.png, the top of the primary estimator's ranking).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT = [
    "summary=1. Summary:summary.html",
    "budget=2. Equal-compute comparison:budget.png",
    "units=4. Attributions:units_top.png",
]
OPEN = """<script>(function go() {{
  // `app` is set only once React has rendered the App, after this script has run: poll for it
  if (typeof app === 'undefined' || !app) {{ return setTimeout(go, 50); }}
  app.showCategory({category});
  // let the category view render before opening the result in it
  setTimeout(function () {{
    app.setView({{content: {content}, contentPath: results[{path}].data_uri, resultPath: {path}}});
  }}, 300);
}})();</script>"""


def result_path(report: str, category: str, filename: str) -> str:
    """The report's key of the result FILENAME listed under CATEGORY.

    Read from the report's own `var categories = {category: {subcategory: [path, ...]}}` rather than
    by grepping for ".../FILENAME": rule info also lists outputs with the same base name (e.g.
    results/runs/<run>/summary.html) that are no key of `results`, and opening one fails silently."""
    start = report.index("var categories = ") + len("var categories = ")
    categories, _ = json.JSONDecoder().raw_decode(report, start)
    hits = [p for paths in categories.get(category, {}).values() for p in paths if p.rsplit("/", 1)[-1] == filename]
    if not hits:
        raise SystemExit(f"{category}: {filename} not in the report; build it with `snakemake --report` after the run")
    return hits[0]


def shoot(report_html: Path, out_png: Path, category: str, filename: str, size: str = "1400,1000") -> None:
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if browser is None:
        raise SystemExit("no Chromium: apt-get install -y chromium-headless-shell")
    text = report_html.read_text()
    path = result_path(text, category, filename)
    content = "html" if filename.endswith(".html") else "img"
    script = OPEN.format(category=json.dumps(category), content=json.dumps(content), path=json.dumps(path))
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        head, _, tail = text.rpartition("</body>")  # the document's own, not one inside the bundled JS
        page.write_text(head + script + "</body>" + tail)
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--virtual-time-budget=10000",
                f"--window-size={size}",
                f"--screenshot={out_png.resolve()}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    report, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for spec in argv[2:] or DEFAULT:
        name, _, rest = spec.partition("=")
        category, _, filename = rest.rpartition(":")
        shoot(report, out / f"report-{name}.png", category, filename)
        print(out / f"report-{name}.png")


if __name__ == "__main__":
    main(sys.argv[1:])
