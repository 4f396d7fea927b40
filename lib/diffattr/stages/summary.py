"""Stage summary: the report's first page (both methods' LDS and their paired gap, the ceiling, the
proxy fidelity, the speed-up, Table 1)."""

from __future__ import annotations

import os

from ..core.atomic import read_json
from ..reporting.report import summary_html


def make_summary(
    *,
    lds: str | os.PathLike,
    budget: str | os.PathLike,
    table1: str | os.PathLike,
    config_line: str,
    html: str | os.PathLike,
) -> None:
    summary_html(read_json(lds), read_json(budget), table1, config_line, html)
