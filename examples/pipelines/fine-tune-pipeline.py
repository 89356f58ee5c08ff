"""A fine-tune pipeline: prepare → train → evaluate → register, CPU only, on the demo dataset.

    aicloud pipelines run examples/pipelines/fine-tune-pipeline.py

Every step is an ordinary aicloud job (product batch-inference: no GPU), under the team's policy, quota and
budget. Outputs pass by reference: each step writes into its output dir, which the platform hashes when the
step ends and mounts read-only into the steps that name it as an argument. prepare and train are cached:
running the pipeline again with the same code, data and parameters skips them ("cached").
The register step assembles the model directory (weights, the evaluation metrics in metrics.json,
lineage.json) and asks for it to be registered as model ``legal-unigram`` WITH the evaluation metrics
(``register_model``): when the step succeeds the platform registers its output as the next version, and
``aicloud lineage model legal-unigram@1`` leads back through the steps to the dataset's content hash.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../packages/sdk/python"))

from aicloud_sdk import datasets, log_metrics, output_dir, pipeline, register_model, step  # noqa: E402

DATASET = "projects/legal-rag/datasets/v2"
MODEL = "legal-unigram"


def _read_texts():
    texts = []
    for root in datasets():
        for base, _, files in os.walk(root):
            for name in sorted(files):
                with open(os.path.join(base, name), encoding="utf-8", errors="replace") as handle:
                    texts.append(handle.read())
    return texts


@step(product="batch-inference", datasets=[DATASET], cache=True)
def prepare():
    """Tokenise the dataset's files into one word list."""
    words = [word.lower() for text in _read_texts() for word in text.split()]
    with open(os.path.join(output_dir(), "tokens.json"), "w") as handle:
        json.dump(words or ["empty"], handle)


@step(product="batch-inference", retries=2, cache=True)
def train(prepare, epochs=3):
    """A unigram "model": word frequencies, logged as a loss per epoch."""
    with open(os.path.join(prepare, "tokens.json")) as handle:
        words = json.load(handle)
    counts = {}
    for epoch in range(epochs):
        for word in words:
            counts[word] = counts.get(word, 0) + 1
        log_metrics({"loss": 1.0 / (epoch + 1)}, step=epoch)
    with open(os.path.join(output_dir(), "model.json"), "w") as handle:
        json.dump(counts, handle)


@step(product="batch-inference")
def evaluate(train, prepare):
    """Coverage of the vocabulary by the model."""
    with open(os.path.join(train, "model.json")) as handle:
        model = json.load(handle)
    with open(os.path.join(prepare, "tokens.json")) as handle:
        words = json.load(handle)
    metrics = {"coverage": sum(1 for word in words if word in model) / len(words), "vocab": len(model)}
    log_metrics(metrics)
    with open(os.path.join(output_dir(), "metrics.json"), "w") as handle:
        json.dump(metrics, handle)


@step(product="batch-inference")
def register(train, evaluate):
    """The model directory (weights, evaluation metrics, lineage), registered with the evaluation metrics."""
    out = output_dir()
    with open(os.path.join(train, "model.json")) as source, open(os.path.join(out, "model.json"), "w") as dest:
        dest.write(source.read())
    with open(os.path.join(evaluate, "metrics.json")) as source:
        metrics = json.load(source)
    with open(os.path.join(out, "metrics.json"), "w") as dest:
        json.dump(metrics, dest)
    lineage = {"dataset": DATASET, "pipeline": os.environ.get("AICLOUD_PIPELINE_ID")}
    with open(os.path.join(out, "lineage.json"), "w") as handle:
        json.dump(lineage, handle)
    register_model(MODEL, metrics=metrics, tags={"example": "fine-tune-pipeline"})


pipeline("fine-tune", [prepare, train, evaluate, register])
