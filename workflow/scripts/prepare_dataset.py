"""Prepare one dataset under its configured root and write a summary of what was done."""
import json
import os
from pathlib import Path

from eet.data.prepare import prepare_dataset
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    dataset = snakemake.params.dataset
    summary = prepare_dataset(
        snakemake.wildcards.dataset,
        Path(dataset["root"]),
        dataset.get("options") or {},
        Path(snakemake.params.resources),
        int(snakemake.params.seed),
    )
    output = Path(snakemake.output.summary)
    temporary = output.with_name(output.name + ".tmp")
    temporary.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, output)
