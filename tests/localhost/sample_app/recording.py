"""Functions append what they saw to <RECORD_DIR>/<name>.jsonl, so tests can read it back."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def record(name: str, entry: dict[str, Any]) -> None:
    path = Path(os.environ["RECORD_DIR"]) / f"{name}.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, default=str) + "\n")
