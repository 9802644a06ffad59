"""Run one sweep-benchmark variant in a process of its own, so its peak RSS is its own.

    echo '{"variant": "sweep", "env": {...}, "options": {}}' | python -m bench.worker

prints one JSON object: seconds, the variant's outcome, Table requests and RSS.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys

from bench.measure import Stopwatch, counting_context, peak_rss_mb
from bench.variants import VARIANTS
from devtools.processes import ROOT
from shared.settings import Settings


def main() -> int:
    job = json.load(sys.stdin)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    ctx, tables = counting_context(Settings.from_env(job["env"]))
    baseline = peak_rss_mb()  # interpreter, SDKs and the app's modules, before any work
    with Stopwatch() as watch:
        outcome = VARIANTS[job["variant"]](ctx, **job.get("options", {}))
    result = {
        "seconds": watch.seconds,
        "outcome": outcome,
        "tableRequests": tables.as_dict(),
        "peakRssMb": peak_rss_mb(),
        "baselineRssMb": baseline,
    }
    json.dump(result, sys.stdout)
    return 0


def run_variant_process(variant: str, env: dict[str, str], options: dict | None = None, timeout: float = 600) -> dict:
    """Called by the orchestrator: run the variant in a child and return its JSON."""
    job = json.dumps({"variant": variant, "env": env, "options": options or {}})
    done = subprocess.run(
        [sys.executable, "-m", "bench.worker"], input=job, capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.worker {variant} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


if __name__ == "__main__":
    sys.exit(main())
