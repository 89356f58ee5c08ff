"""aicloud SDK for Python workloads: one file, standard library only.

Copy it next to your training script (or add its folder to PYTHONPATH) and call::

    import aicloud_sdk
    aicloud_sdk.log_metrics({"loss": 1.93, "tokens_per_s": 25000}, step=10)

Inside an aicloud job the metrics go to the platform's API with the job's run token
(AICLOUD_URL, AICLOUD_RUN_TOKEN, AICLOUD_JOB_ID); elsewhere, or if the API cannot be reached,
they are printed as a JSON line that the platform also reads from stdout. It never raises.

Pipelines (``aicloud pipelines run file.py``)::

    from aicloud_sdk import step, pipeline

    @step(product="batch-inference", datasets=["projects/legal-rag/datasets/v2"], cache=True)
    def prepare():
        ...  # write into output_dir()

    @step(product="batch-inference", retries=2)
    def train(prepare, lr=0.1):   # an argument named like a step: depends on it, gets its output dir
        ...

    pipeline("fine-tune", [prepare, train], experiment="legal-fine-tunes")

Every step's job is an MLflow run; all runs of a pipeline land in one experiment of its team (``experiment``,
default: the pipeline's name; created if missing).
A step that calls ``register_model("name", metrics={...})`` has its output registered in the model registry
with those metrics once its job succeeds.

``python3 file.py --aicloud-spec`` prints the pipeline's JSON spec (the CLI sends it to the platform);
inside a step's job the platform runs ``python3 file.py --aicloud-step NAME``, which calls that function
with the upstream steps' output directories (AICLOUD_INPUT_<STEP>, read-only) and its parameters'
defaults (AICLOUD_PARAMS). Other arguments must have defaults: they are the step's parameters, part of
its cache key.
"""

import inspect
import json
import math
import os
import shlex
import sys
import urllib.error
import urllib.request

__all__ = ["log_metrics", "output_dir", "checkpoint_dir", "datasets", "register_model", "step", "pipeline"]


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


REGISTER_FILE = "aicloud-register.json"


def register_model(name, metrics=None, tags=None, runtime=None):
    """Asks the platform to register this step's output dir as the next version of model ``name``.

    ``metrics`` (name → number, e.g. the evaluation's) are attached to the version. The request is written to
    ``$AICLOUD_OUTPUT_DIR/aicloud-register.json``; when the step's job succeeds the pipeline registers the
    output as the pipeline's owner (the registry's policy and scan apply) and the version's lineage leads back
    through the pipeline's steps to the datasets' content hashes. A refusal fails the step. Returns the request.
    """
    request = {"name": str(name)}
    clean = {str(k): float(v) for k, v in (metrics or {}).items() if isinstance(v, (int, float)) and math.isfinite(v)}
    request["metrics"] = clean
    request["tags"] = {str(k): str(v) for k, v in (tags or {}).items()}
    if runtime:
        request["runtime"] = str(runtime)
    out = output_dir()
    if not out:
        raise RuntimeError("register_model runs inside a pipeline step (AICLOUD_OUTPUT_DIR is not set)")
    with open(os.path.join(out, REGISTER_FILE), "w", encoding="utf-8") as handle:
        json.dump(request, handle)
    return request


_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def step(product, gpus=0, retries=0, cache=False, datasets=None):
    """Marks a function as a pipeline step run as an aicloud job of ``product``."""

    def mark(function):
        function._aicloud_step = {
            "product": product,
            "gpus": gpus,
            "retries": retries,
            "cache": cache,
            "datasets": list(datasets or []),
        }
        return function

    return mark


def _spec(name, steps, script, experiment=None):
    names = {function.__name__ for function in steps}
    out = []
    for function in steps:
        options = getattr(function, "_aicloud_step", None)
        if options is None:
            raise ValueError(f"{function.__name__} is not decorated with @step")
        depends, params = [], {}
        for parameter in inspect.signature(function).parameters.values():
            if parameter.name in names:
                depends.append(parameter.name)
            elif parameter.default is inspect.Parameter.empty:
                raise ValueError(f"{function.__name__}({parameter.name}): not a step, so it needs a default")
            else:
                params[parameter.name] = parameter.default
        command = (
            f"PYTHONPATH={shlex.quote(_SDK_DIR)} python3 {shlex.quote(script)} "
            f"--aicloud-step {shlex.quote(function.__name__)}"
        )
        out.append({"name": function.__name__, "command": command, "dependsOn": depends, "params": params, **options})
    spec = {"name": name, "steps": out}
    if experiment is not None:
        experiment = str(experiment)
        if not 1 <= len(experiment) <= 256 or any(ord(c) < 32 or ord(c) == 127 for c in experiment):
            raise ValueError("experiment: 1-256 characters, no control characters")
        spec["experiment"] = experiment
    return spec


def pipeline(name, steps, argv=None, experiment=None):
    """Declares the pipeline: prints its spec (``--aicloud-spec``) or runs one step (``--aicloud-step NAME``).

    ``experiment`` names the MLflow experiment all its steps' runs land in (default: the pipeline's name).
    """
    argv = sys.argv[1:] if argv is None else argv
    script = os.path.abspath(sys.modules["__main__"].__file__)
    spec = _spec(name, steps, script, experiment)
    if argv[:1] == ["--aicloud-spec"]:
        sys.stdout.write(json.dumps(spec, indent=2) + "\n")
        return spec
    if argv[:1] == ["--aicloud-step"] and len(argv) > 1:
        function = next((f for f in steps if f.__name__ == argv[1]), None)
        if function is None:
            raise SystemExit(f"no step {argv[1]} in pipeline {name}")
        params = json.loads(os.environ.get("AICLOUD_PARAMS") or "{}")
        kwargs = {}
        for parameter in inspect.signature(function).parameters:
            variable = f"AICLOUD_INPUT_{parameter.upper()}"
            if variable in os.environ:
                kwargs[parameter] = os.environ[variable]
            elif parameter in params:
                kwargs[parameter] = params[parameter]
        function(**kwargs)
        return None
    sys.stdout.write(f"usage: {sys.argv[0]} --aicloud-spec | --aicloud-step NAME (or: aicloud pipelines run FILE)\n")
    return spec
