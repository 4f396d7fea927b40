"""DDIM sampling from fixed initial noises (common random numbers across models)."""

from __future__ import annotations

import torch


def initial_noise(n: int, shape: tuple[int, ...], seed: int, batch_size: int, batch_index: int) -> torch.Tensor:
    """The noise of one batch depends only on (seed, batch index): every model sees the same noises."""
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + batch_index)
    count = min(batch_size, n - batch_index * batch_size)
    return torch.randn((count, *shape), generator=gen)


@torch.no_grad()
def ddim_sample(model: torch.nn.Module, scheduler, n: int, steps: int, seed: int, batch_size: int,
                eta: float = 0.0, compute=None) -> torch.Tensor:
    """Generate `n` images in [-1, 1] with DDIM (`eta` 0: deterministic given the initial noise).
    The initial noises are drawn on the CPU whatever the device, so every model on every device
    starts from the same ones; on a GPU the images stay there until the end (one copy back)."""
    from .compute import CPU

    compute = compute or CPU
    model = model.eval().to(compute.device)
    size = model.config.sample_size
    size = size if isinstance(size, int) else size[0]
    shape = (model.config.in_channels, size, size)
    scheduler.set_timesteps(steps)
    out = []
    for b in range((n + batch_size - 1) // batch_size):
        x = initial_noise(n, shape, seed, batch_size, b).to(compute.device)
        gen = torch.Generator().manual_seed(int(seed) * 7919 + b)  # only used when eta > 0
        for t in scheduler.timesteps:
            with compute.autocast():
                eps = model(x, t).sample
            x = scheduler.step(eps.float(), t, x, eta=eta, generator=gen).prev_sample
        out.append(x.clamp(-1, 1))
    return torch.cat(out).cpu()


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float N x C x H x W -> uint8 N x 3 x H x W, the input torch-fidelity extractors take."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x
