"""Learn the label-derived target codes of one dataset's training images for one bit length."""
import numpy as np

from eet.data.split import read_split_table
from eet.hashing.targets import learn_target_codes
from eet.train.data import split_rows
from eet.workflow_support import rule_logging
from eet.evaluate import save_npy_atomically

with rule_logging(snakemake) as log:
    table, _ = read_split_table(snakemake.input.split)
    train_rows = split_rows(table, "train")
    settings = snakemake.params.targets
    codes = learn_target_codes(
        train_rows["label"].to_numpy(np.int64),
        num_classes=int(table["label"].max()) + 1,
        bits=int(snakemake.wildcards.bits),
        sigma=settings["sigma"],
        delta=settings["delta"],
        iterations=settings["iterations"],
        seed=snakemake.params.seed,
    )
    save_npy_atomically(codes, snakemake.output.codes)
