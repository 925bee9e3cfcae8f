"""Fine-tune the unpruned teacher of one dataset with one hash head per bit length."""
from pathlib import Path

import numpy as np

from eet.data.split import read_split_table
from eet.tracking import resolve_tracking_uri
from eet.train.loop import RunContext, train_teacher
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    dataset = snakemake.wildcards.dataset
    table, _ = read_split_table(snakemake.input.split)
    targets = {bits: np.load(path) for bits, path in zip(snakemake.params.bits, snakemake.input.targets)}
    context = RunContext(
        out_path=Path(snakemake.output.model),
        tracking_uri=resolve_tracking_uri(snakemake.config),
        experiment=snakemake.config["mlflow"]["experiment"],
        cell=f"{dataset}/teacher",
        role="teacher",
        tags={"dataset": dataset, "variant": "teacher", "bits": ",".join(map(str, snakemake.params.bits))},
    )
    train_teacher(table, targets, snakemake.config, context)
