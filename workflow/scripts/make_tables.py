"""Build the mAP and latency tables of the whole grid."""
from eet.report.tables import collect_results, latency_table, map_table, write_table
from eet.workflow_support import rule_logging

with rule_logging(snakemake) as log:
    out = snakemake.output
    results = collect_results(snakemake.params.cells)
    write_table(results, csv_path=out.long)
    for protocol, label in (("asymmetric", "paper protocol: database codes are the target codes"),
                            ("symmetric", "symmetric protocol: database codes come from the student")):
        caption = f"mAP@all (%) with ties broken by database index, and tie-aware mAP (%); {label}."
        write_table(
            map_table(results, protocol), csv_path=out[f"map_{protocol}"], markdown_path=out[f"map_{protocol}_md"],
            latex_path=out.get(f"map_{protocol}_tex"), caption=caption,
        )
    write_table(latency_table(snakemake.input.latency), csv_path=out.latency, markdown_path=out.latency_md,
                caption="Forward-pass latency, FLOPs and parameters per model (ratios relative to the unpruned student vit).",
                floatfmt=".4g")
