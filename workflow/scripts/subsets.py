"""Snakemake adapter: draw one training or test subset over the attribution units."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start
from diffattr.pipeline import make_subset, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
p = sm.params
info = make_subset(sm.input.data, p.unit, p.alpha, p.seed, sm.wildcards.subset, sm.output.subset)
write_spec(sm.output.subset.rsplit("/", 1)[0], p.spec)
log.info(f"{info['id']}: {len(info['unit_indices'])}/{info['n_units']} units, {len(info['sample_indices'])} images")
