"""Stage subsets: draw one chunk of training or test subsets over the attribution units."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.core.settings import SubsetDraws, Units
from diffattr.stages.subsets import make_subsets
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
info = make_subsets(
    **sm.input,
    **sm.output,
    settings=SubsetDraws(Units(p.unit, p.kmeans, p.csv), alpha=p.alpha, seed=p.seed),
    chunk_id=sm.wildcards.chunk,
    members=p.members,
    n_units=p.n_units,
)
write_spec(p.spec)
redrawn = [sid for sid, sub in info["subsets"].items() if sub["redraws"]]
log.info(
    f"{sm.wildcards.chunk}: {len(info['subsets'])} subsets, redrawn for repeating an earlier one: "
    f"{', '.join(redrawn) or 'none'}"
)
