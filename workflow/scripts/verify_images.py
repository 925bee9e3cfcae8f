"""Decode every image of one dataset once; fail with a report unless the bad ones are known."""
from pathlib import Path

from eet.data.images import verify_images
from eet.data.split import read_split_table
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    dataset = snakemake.params.dataset
    table, _ = read_split_table(Path(snakemake.input.split))
    report = verify_images(
        table,
        Path(dataset["root"]),
        list(dataset.get("known_bad_images") or []),
        Path(snakemake.output.report),
    )
    log.info("decoded %d images; %d bad ones are listed as known", report["images"], report["bad_count"])
