"""Plot mAP against bits and latency against mAP."""
import pandas as pd

from eet.report.plots import plot_latency_vs_map, plot_map_vs_bits
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    results = pd.read_csv(snakemake.input.long)
    plot_map_vs_bits(results, snakemake.output.map_vs_bits)
    plot_latency_vs_map(results, pd.read_csv(snakemake.input.latency), snakemake.output.latency_vs_map)
