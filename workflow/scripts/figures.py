"""Stage figures: predicted-vs-actual scatter, attribution histogram, the two unit grids."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.core.settings import Units
from diffattr.stages.figures import attribution_figures
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
out = attribution_figures(
    **sm.input,
    **sm.output,
    units=Units(p.unit, p.kmeans, p.csv),
    top_k=p.top_k,
    expected_identified=p.level_identified,
)
write_spec(p.spec)
log.info(f"figures: sign identified: {out['sign_identified']}; {out['grids']}")
