"""One module per workflow stage, named after it: each reads its inputs, calls the library and writes
its artifacts atomically. The stage scripts (workflow/scripts/<stage>.py) only translate the
`snakemake` object into these explicit arguments, so every stage runs (and is tested) without
Snakemake. README's layout section maps stage -> rule -> script -> function."""
