"""Read the correlation rules file (`--rules PATH`, `CORRELATOR_RULES`) into `EngineSettings`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from correlator.core.settings import EngineSettings


def load_settings(path: str | Path | None) -> EngineSettings:
    """Read a rules file (YAML or JSON); `None` gives the built-in defaults."""
    if path is None:
        return EngineSettings()
    text = Path(path).read_text(encoding="utf-8")
    data: Any = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a rules file must be a mapping, not {type(data).__name__}")
    return EngineSettings.model_validate(data)
