# A grid of each model kind's samples for the report (captions in report/samples.rst); each grid is
# named by its own model's hash, so a change to unlearning redraws only the unlearned model's grid.
rule samples:
    input:
        model=sample_model,
    output:
        grid=report(
            path("samples", "grid"),
            caption="../report/samples.rst",
            category="3. Samples",
            labels={"model": "{kind}"},
        ),
    log:
        LAYOUT.log("samples", "kind"),
    benchmark:
        path("samples", "benchmark")
    wildcard_constraints:
        kind="|".join(SAMPLE_STAGE),
        shash="|".join(SAMPLE_KIND_OF),
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["samples"]
    resources:
        **RESOURCES_OF["samples"],
    params:
        spec=lambda w: spec(SAMPLE_STAGE[w.kind]),
        # Only the unlearned and retrained grids draw a subset's model; the others' params must not
        # change with the subsets (a changed param reruns a job).
        subset=lambda w: PAIR_IDS[0] if w.kind in ("unlearned", "retrained") else "",
        behaviour={k: config["behaviour"][k] for k in ("seed", "ddim_steps", "eta")},
        scheduler=config["scheduler"],
        n=config["report"]["n_images"],
    script:
        "../workflow/scripts/samples.py"
