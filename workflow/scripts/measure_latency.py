"""Time the teacher and the student architectures on one device (random weights: latency only)."""
from eet.bench.latency import write_latency_report
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    write_latency_report(snakemake.config, snakemake.wildcards.device, snakemake.output.table)
