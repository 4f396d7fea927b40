"""Stage figures: predicted-vs-actual scatter, attribution histogram, the two unit grids."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.jobs import start
from diffattr.layout import write_spec
from diffattr.stages.figures import attribution_figures

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
o, p = sm.output, sm.params
out = attribution_figures(
    sm.input.lds,
    sm.input.attributions,
    sm.input.data,
    p.unit,
    p.top_k,
    o.scatter,
    o.histogram,
    o.top,
    o.bottom,
    f"{p.unit} units",
    sm.input.get("reference"),
    p.kmeans,
    p.csv,
    p.level_identified,
)
write_spec(p.spec)
log.info(f"figures: sign identified: {out['sign_identified']}; {out['grids']}")
