"""Cross-key checks of the `baselines` section, run with the config's validation at start-up."""

from __future__ import annotations

from typing import Any, Mapping

from . import GRADIENT, configured


def check_config(config: Mapping[str, Any]) -> None:
    """Raise ConfigError with one line naming the key, when a configured baseline cannot run."""
    from ..config import ConfigError

    names = configured(config["datamodel"]["estimators"])
    if not names:
        return
    b, steps = config["baselines"], int(config["scheduler"]["num_train_timesteps"])
    if set(names) & set(GRADIENT) and b["timesteps"] > steps:
        raise ConfigError(
            f"config key baselines.timesteps: {b['timesteps']} exceeds scheduler.num_train_timesteps="
            f"{steps} (TRAK and D-TRAK average over that many distinct timesteps); lower it"
        )
