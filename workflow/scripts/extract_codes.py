"""Extract packed query, database and target codes of one trained student."""
import numpy as np

from eet.data.split import read_split_table
from eet.evaluate import extract_codes
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    table, _ = read_split_table(snakemake.input.split)
    extract_codes(
        snakemake.input.model, table, np.load(snakemake.input.targets), int(snakemake.wildcards.bits),
        snakemake.config, snakemake.output.codes,
    )
