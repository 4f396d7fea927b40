"""diffattr: global data attribution for diffusion models by sparsified unlearning.

Importing the package is cheap on purpose: submodules pull in torch/diffusers only when used,
because every Snakemake job pays the import cost again.
"""

__version__ = "0.1.0"
