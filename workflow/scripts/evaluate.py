"""Score one cell under both protocols and log metrics and latency to its MLflow run."""
from eet.evaluate import evaluate_cell
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    evaluate_cell(
        codes_path=snakemake.input.codes,
        model_path=snakemake.input.model,
        latency_paths=list(snakemake.input.latency),
        variant=snakemake.wildcards.variant,
        config=snakemake.config,
        metrics_path=snakemake.output.metrics,
        pr_curve_path=snakemake.output.pr_curve,
    )
