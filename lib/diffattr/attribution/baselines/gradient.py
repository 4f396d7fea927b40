"""TRAK and D-TRAK scores of training images against generated images, through dattri.

dattri's `TRAKAttributor` does the work: per-sample gradients with torch.func (vmap over `grad`),
its random projection, the kernel (Phi^T Phi + lambda I) and the scores
phi_gen (Phi^T Phi + lambda I)^-1 phi_train (Park et al. 2023; dattri 0.3). What is written here
is only the diffusion side it takes as input:
- the model output function f(params, image): TRAK's is the diffusion training loss
  ||eps_theta(x_t, t) - eps||^2, D-TRAK's the squared norm of the predicted noise ||eps_theta(x_t, t)||^2
  (Zheng et al. 2024, their "mean-squared-l2-norm"), each averaged over pixels and over a fixed set
  of timesteps; both sides (training and generated images) use the same function, as D-TRAK does;
- the timesteps: K evenly spaced over the T training timesteps, t_k = k T // K (D-TRAK's
  "uniform" strategy: 0, 100, ..., 900 for K = 10 and T = 1000);
- the noise: image i's K noises are drawn from a generator seeded by (seed, role, i) (role 0 for
  training images, 1 for generated ones), so they depend neither on the batching nor on the order.
TRAK's 1 - p weighting (`correct_probability_func`) belongs to classification; here it is 1.

Sign: with the loss as output function, a positive score means that training on the image lowers
the generated image's loss (raises its likelihood): a proponent. D-TRAK keeps TRAK's sign.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

OUTPUTS = {"trak": "loss", "dtrak": "square"}
ROLE = {"train": 0, "generated": 1}


def timestep_grid(n: int, num_train_timesteps: int) -> torch.Tensor:
    """K evenly spaced timesteps t_k = k * T // K, k = 0 .. K-1 (D-TRAK's uniform strategy)."""
    if not 1 <= n <= num_train_timesteps:
        raise ValueError(f"baselines.timesteps: {n}; use 1 to scheduler.num_train_timesteps ({num_train_timesteps})")
    return torch.tensor([k * num_train_timesteps // n for k in range(n)], dtype=torch.long)


def image_noise(seed: int, role: int, index: int, n_timesteps: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The K noises of image `index` (one per timestep), from its own generator: independent of the
    batch it is scored in. Drawn on the CPU."""
    state = int(np.random.SeedSequence([int(seed), int(role), int(index)]).generate_state(1, np.uint64)[0])
    return torch.randn((n_timesteps, *shape), generator=torch.Generator().manual_seed(state))


class NoisedImages(torch.utils.data.Dataset):
    """(image, its K noises) per item: what the output function needs besides the parameters.
    Item i is image offset + i of its set, and draws that index's noises (a chunk of the generated
    images gets the noises it would get in one piece)."""

    def __init__(self, images: torch.Tensor, n_timesteps: int, seed: int, role: int, offset: int = 0):
        self.images, self.n_timesteps, self.seed, self.role, self.offset = images, n_timesteps, seed, role, offset

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[i]
        return image, image_noise(self.seed, self.role, self.offset + i, self.n_timesteps, tuple(image.shape))


def output_function(
    model: torch.nn.Module, method: str, timesteps: torch.Tensor, alphas_cumprod: torch.Tensor
) -> Callable[[Mapping[str, torch.Tensor], Any], torch.Tensor]:
    """f(params, (x0, noises)) for one image: TRAK's loss or D-TRAK's squared noise norm, averaged
    over pixels and the K timesteps. x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (DDPM's forward
    process, as the scheduler's add_noise)."""
    if method not in OUTPUTS:
        raise ValueError(f"gradient baseline {method!r}: use one of {sorted(OUTPUTS)}")
    abar = alphas_cumprod.to(timesteps.device)[timesteps].float()
    scale_x, scale_eps = abar.sqrt().view(-1, 1, 1, 1), (1 - abar).sqrt().view(-1, 1, 1, 1)
    square = OUTPUTS[method] == "square"

    def f(params: Mapping[str, torch.Tensor], data: Any) -> torch.Tensor:
        x0, noise = data
        x_t = scale_x * x0.unsqueeze(0) + scale_eps * noise  # K x C x H x W
        eps = torch.func.functional_call(model, dict(params), (x_t, timesteps)).sample
        return (eps**2).mean() if square else ((eps - noise) ** 2).mean()

    return f


def _no_weighting(params: Mapping[str, torch.Tensor], data: Any) -> torch.Tensor:
    """TRAK's 'probability of the correct label' p, weighted by 1 - p: 0 here, so the weight is 1
    (a classification term; the diffusion loss has none). Batched through the data under vmap."""
    return data[0].sum() * 0.0


def make_attributor(  # noqa: PLR0913  (dattri's attributor settings; keyword-only after the first three)
    model: torch.nn.Module,
    train_images: torch.Tensor,
    method: str,
    *,
    n_timesteps: int,
    alphas_cumprod: torch.Tensor,
    proj_dim: int,
    proj_type: str,
    regularization: float,
    seed: int,
    batch_size: int,
    device: torch.device | str = "cpu",
):
    """dattri's TRAKAttributor on `model` with the method's output function, its kernel cached on
    the training images."""
    from dattri.algorithm.trak import TRAKAttributor
    from dattri.task import AttributionTask

    device = torch.device(device)
    model = model.to(device).eval()
    model.requires_grad_(True)  # dattri differentiates every parameter that requires grad
    timesteps = timestep_grid(n_timesteps, len(alphas_cumprod)).to(device)
    f = output_function(model, method, timesteps, alphas_cumprod)
    # The same function on both sides (target_func defaults to loss_func), as D-TRAK scores.
    task = AttributionTask(loss_func=f, model=model, checkpoints=model.state_dict())
    projector = {
        "proj_dim": int(proj_dim),
        "proj_type": proj_type,
        "proj_seed": int(seed),
        "proj_max_batch_size": 32,
        "device": str(device),
    }
    attributor = TRAKAttributor(
        task=task,
        correct_probability_func=_no_weighting,
        projector_kwargs=projector,
        device=str(device),
        regularization=float(regularization),
    )
    attributor.cache(_loader(train_images, n_timesteps, seed, ROLE["train"], batch_size))
    return attributor


def _loader(images: torch.Tensor, n_timesteps: int, seed: int, role: int, batch_size: int, offset: int = 0):
    return torch.utils.data.DataLoader(
        NoisedImages(images, n_timesteps, seed, role, offset), batch_size=batch_size, shuffle=False
    )


def pair_scores(
    attributor, generated: torch.Tensor, n_timesteps: int, seed: int, batch_size: int, offset: int = 0
) -> torch.Tensor:
    """Scores (n_train x n_generated) of the cached training images against generated images
    `offset` .. offset + len(generated) - 1 (their noises follow their global index)."""
    loader = _loader(generated, n_timesteps, seed, ROLE["generated"], batch_size, offset)
    return attributor.attribute(loader).detach().cpu()


def gradient_support(
    model: torch.nn.Module,
    train_images: np.ndarray,
    generated: np.ndarray,
    method: str,
    cfg: Mapping[str, Any],
    alphas_cumprod: torch.Tensor,
    batch_size: int,
    device: torch.device | str = "cpu",
    chunk: int = 1000,
    logger=None,
) -> np.ndarray:
    """Per training image: the mean over the generated images of its TRAK (or D-TRAK) score. The
    generated images are scored in chunks, so the n_train x n_generated matrix is never held whole."""
    train = torch.from_numpy(np.ascontiguousarray(train_images, dtype=np.float32))
    gen = torch.from_numpy(np.ascontiguousarray(generated, dtype=np.float32))
    k, seed = int(cfg["timesteps"]), int(cfg["seed"])
    singular = (
        f"{method}: the kernel of {len(train)} training images' projected gradients is singular or "
        f"non-finite; raise baselines.regularization or lower baselines.proj_dim ({cfg['proj_dim']})"
    )
    start_time = time.perf_counter()
    try:
        attributor = make_attributor(
            model,
            train,
            method,
            n_timesteps=k,
            alphas_cumprod=alphas_cumprod,
            proj_dim=int(cfg["proj_dim"]),
            proj_type=str(cfg.get("proj_type", "normal")),
            regularization=float(cfg["regularization"]),
            seed=seed,
            batch_size=batch_size,
            device=device,
        )
        if logger is not None:
            logger.info(
                f"{method}: kernel of {len(train)} training images x {k} timesteps in "
                f"{time.perf_counter() - start_time:.1f}s"
            )
        total = torch.zeros(len(train), dtype=torch.float64)
        for start in range(0, len(gen), chunk):
            scores = pair_scores(attributor, gen[start : start + chunk], k, seed, batch_size, offset=start)
            total += scores.double().sum(dim=1)
            if logger is not None:
                logger.info(
                    f"{method}: scored generated images {start}..{start + scores.shape[1] - 1} of {len(gen)} "
                    f"({time.perf_counter() - start_time:.1f}s)"
                )
    except torch.linalg.LinAlgError:
        raise ValueError(singular) from None
    support = (total / len(gen)).numpy()
    if not np.all(np.isfinite(support)):
        raise ValueError(singular)
    return support
