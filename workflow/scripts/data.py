"""Snakemake adapter: write the training tensor and its content hash."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start
from diffattr.pipeline import make_data, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
info = make_data(sm.params.data, sm.output.data, sm.output.info)
write_spec(sm.output.data.rsplit("/", 1)[0], sm.params.spec)
log.info(f"data: {info['n']} images of shape {info['shape']}, sha256 {info['content_sha256'][:16]}")
