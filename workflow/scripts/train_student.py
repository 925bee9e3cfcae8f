"""Train one student: one dataset, one bit length, one variant."""
from pathlib import Path

import numpy as np

from eet.data.split import read_split_table
from eet.tracking import resolve_tracking_uri
from eet.train.loop import RunContext, train_student
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    dataset, bits, variant = snakemake.wildcards.dataset, int(snakemake.wildcards.bits), snakemake.wildcards.variant
    table, _ = read_split_table(snakemake.input.split)
    context = RunContext(
        out_path=Path(snakemake.output.model),
        tracking_uri=resolve_tracking_uri(snakemake.config),
        experiment=snakemake.config["mlflow"]["experiment"],
        cell=f"{dataset}/{bits}/{variant}",
        role="student",
        tags={"dataset": dataset, "bits": str(bits), "variant": variant},
    )
    teacher = Path(snakemake.input.teacher) if "teacher" in snakemake.input.keys() else None
    train_student(table, np.load(snakemake.input.targets), bits, variant, teacher, snakemake.config, context)
