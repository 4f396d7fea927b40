"""Stage summary: the report's first page (both methods' LDS and their paired gap, the ceiling, the
proxy fidelity, the speed-up, Table 1)."""

from __future__ import annotations

import os

from ..atomic import read_json
from ..report import summary_html


def make_summary(
    lds_json: str | os.PathLike,
    budget_json: str | os.PathLike,
    table1_csv: str | os.PathLike,
    config_line: str,
    out_html: str | os.PathLike,
) -> None:
    summary_html(read_json(lds_json), read_json(budget_json), table1_csv, config_line, out_html)
