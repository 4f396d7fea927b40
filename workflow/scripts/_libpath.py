"""Put the repository's lib/ first on sys.path so every job imports this checkout's diffattr.

Snakemake puts this folder on sys.path (possibly a cached copy of it), and sets the job script's
`__file__` to the real script path: lib/ is found from that, not from this module's location."""

import sys
from pathlib import Path

_script = Path(getattr(sys.modules["__main__"], "__file__", __file__)).resolve()
LIB = str(_script.parents[2] / "lib")
if sys.path[:1] != [LIB]:
    sys.path.insert(0, LIB)
