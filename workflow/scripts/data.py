"""Stage data: the training tensor and its content hash."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.core.settings import DataSource
from diffattr.stages.data import make_data
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
info = make_data(**sm.output, settings=DataSource.from_config(sm.params.data))
write_spec(sm.params.spec)
log.info(f"data: {info['n']} images of shape {info['shape']}, sha256 {info['content_sha256'][:16]}")
