"""Snakemake adapter: one baseline's support per training image and per unit."""
import os

os.environ.setdefault("TQDM_DISABLE", "1")  # dattri's progress bars would fill the log
import _libpath  # noqa: F401,E402  (lib/ on sys.path)
from pathlib import Path  # noqa: E402

from diffattr.baselines.stage import make_scores  # noqa: E402
from diffattr.jobs import start_model_job  # noqa: E402
from diffattr.pipeline import write_spec  # noqa: E402
from diffattr.plan import runtime_settings  # noqa: E402

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p, inp, method = sm.params, sm.input, sm.wildcards.method
att = p.attribution
batch_size = int(runtime_settings(sm.config, "baselines").get("batch_size", 64))
info = make_scores(method, inp.images, inp.data, att["unit"], p.cfg, sm.output.scores, sm.output.per_image,
                   model_path=inp.model, sched_cfg=p.scheduler, reference_npz=inp.reference,
                   classifier_pt=inp.classifier, behaviour_cfg=p.behaviour, kmeans=att.get("kmeans"),
                   csv_path=att.get("csv"), batch_size=batch_size, startup=startup, compute=compute, logger=log)
write_spec(Path(sm.output.scores).parent.parent, p.spec)
top = sorted(info["support"].items(), key=lambda kv: -kv[1])[:3]
log.info(f"{method}: {info['n_units']} units from {info['n_train_images']} images against {info['n_generated']} "
         f"generated in {info['seconds']:.1f}s; highest support {top}")
