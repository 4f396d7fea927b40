"""DDIM sampling from fixed initial noises (common random numbers across models)."""

from __future__ import annotations

import numpy as np
import torch


def _image_seed(seed: int, index: int, stream: int) -> int:
    # SeedSequence mixes (seed, stream, index) so that no two images, streams or seeds share a
    # generator (a linear formula such as seed * K + index would collide across seeds).
    return int(np.random.SeedSequence([int(seed), int(stream), int(index)]).generate_state(1, np.uint64)[0])


def initial_noise(shape: tuple[int, ...], seed: int, start: int, count: int) -> torch.Tensor:
    """The initial noises of images start .. start + count - 1. Image j's noise depends only on
    (seed, j), not on the batch it is sampled in, so every model, batch size and device starts
    image j from the same noise. Drawn on the CPU."""
    out = torch.empty((count, *shape))
    for i in range(count):
        gen = torch.Generator().manual_seed(_image_seed(seed, start + i, 0))
        out[i] = torch.randn(shape, generator=gen)
    return out


class _EtaNoise:
    """The per-step noise DDIM adds when eta > 0, one generator per image (seeded by (seed, j)),
    so it too is independent of the batching."""

    def __init__(self, shape: tuple[int, ...], seed: int, start: int, count: int):
        self.shape = shape
        self.gens = [torch.Generator().manual_seed(_image_seed(seed, start + i, 1)) for i in range(count)]

    def next(self) -> torch.Tensor:
        return torch.stack([torch.randn(self.shape, generator=g) for g in self.gens])


@torch.no_grad()
def ddim_sample(
    model: torch.nn.Module, scheduler, n: int, steps: int, seed: int, batch_size: int, eta: float = 0.0, compute=None
) -> torch.Tensor:
    """Generate `n` images in [-1, 1] with DDIM (`eta` 0: deterministic given the initial noise).
    The noises are drawn on the CPU per image whatever the device and batch size, so every model on
    every device starts image j from the same noise; on a GPU the images stay there until the end
    (one copy back)."""
    from .compute import CPU

    compute = compute or CPU
    model = model.eval().to(compute.device)
    size = model.config.sample_size
    size = size if isinstance(size, int) else size[0]
    shape = (model.config.in_channels, size, size)
    scheduler.set_timesteps(steps)
    out = []
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        x = initial_noise(shape, seed, start, count).to(compute.device)
        eta_noise = _EtaNoise(shape, seed, start, count) if eta > 0 else None
        for t in scheduler.timesteps:
            with compute.autocast(compute.drawing_precision):
                eps = model(x, t).sample
            extra = {"variance_noise": eta_noise.next().to(compute.device)} if eta_noise else {}
            x = scheduler.step(eps.float(), t, x, eta=eta, **extra).prev_sample
        out.append(x.clamp(-1, 1))
    return torch.cat(out).cpu()


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float N x C x H x W -> uint8 N x 3 x H x W, the input torch-fidelity extractors take."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x
