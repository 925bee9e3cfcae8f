"""Write the canonical split table of one prepared dataset and log its counts."""
from pathlib import Path

from eet.data.split import build_split_table, exclude_images, split_table_metadata, write_split_table
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    name = snakemake.wildcards.dataset
    dataset = snakemake.params.dataset
    root = Path(dataset["root"])
    options = dataset.get("options") or {}
    known_bad = list(dataset.get("known_bad_images") or [])

    table = build_split_table(name, root, options)
    table = exclude_images(table, root, known_bad)
    metadata = split_table_metadata(name, root, options, table)
    metadata["excluded_images"] = known_bad
    counts = metadata["counts"]
    log.info("%s: %d classes, %d train (database), %d test (query) images",
             name, counts["classes"], counts["train"], counts["test"])
    write_split_table(table, Path(snakemake.output.split), metadata)
