"""aicloud SDK for Python workloads: one file, standard library only.

Copy it next to your training script (or add its folder to PYTHONPATH) and call::

    import aicloud_sdk
    aicloud_sdk.log_metrics({"loss": 1.93, "tokens_per_s": 25000}, step=10)

Inside an aicloud job the metrics go to the platform's API with the job's run token
(AICLOUD_URL, AICLOUD_RUN_TOKEN, AICLOUD_JOB_ID); elsewhere, or if the API cannot be reached,
they are printed as a JSON line that the platform also reads from stdout. It never raises.
"""

import json
import math
import os
import sys
import urllib.error
import urllib.request

__all__ = ["log_metrics", "output_dir", "checkpoint_dir", "datasets"]


def output_dir():
    """Where the job should write its outputs (AICLOUD_OUTPUT_DIR), or None outside the platform."""
    return os.environ.get("AICLOUD_OUTPUT_DIR")


def checkpoint_dir():
    """Where checkpoints survive restarts of the same job (AICLOUD_CHECKPOINT_DIR), or None."""
    return os.environ.get("AICLOUD_CHECKPOINT_DIR")


def datasets():
    """Local paths of the datasets the job was admitted with."""
    return [path for path in os.environ.get("AICLOUD_DATASETS", "").split(":") if path]


def log_metrics(metrics, step=None, timeout=5.0):
    """Report numeric metrics for the current job; returns "api" or "stdout"."""
    clean = {str(k): float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    url = os.environ.get("AICLOUD_URL")
    token = os.environ.get("AICLOUD_RUN_TOKEN")
    job = os.environ.get("AICLOUD_JOB_ID")
    if url and token and job:
        body = {"metrics": clean}
        if step is not None:
            body["step"] = step
        request = urllib.request.Request(
            f"{url.rstrip('/')}/v1/jobs/{job}/metrics",
            data=json.dumps(body).encode("utf-8"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return "api"
        except (urllib.error.URLError, OSError, ValueError):
            pass
    line = {"event": "metric"}
    if step is not None:
        line["step"] = step
    line.update(clean)
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    return "stdout"
