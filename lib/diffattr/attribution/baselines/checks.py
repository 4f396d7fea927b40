"""Cross-key checks of the `baselines` section, run with the config's validation at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import GRADIENT, configured


def config_problems(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, problem and fix) for each reason a configured baseline cannot run; config.validate_config
    lists them with the config's other problems."""
    names = configured(config["datamodel"]["estimators"])
    if not names:
        return []
    b, steps = config["baselines"], int(config["scheduler"]["num_train_timesteps"])
    out = []
    if set(names) & set(GRADIENT) and b["timesteps"] > steps:
        out.append(
            (
                "baselines.timesteps",
                f"{b['timesteps']} exceeds scheduler.num_train_timesteps={steps} (TRAK and D-TRAK average over "
                "that many distinct timesteps); lower it",
            )
        )
    return out
