# EET reproduction workflow. Target rule: all_tables (every table and plot of the configured grid).
# Stages live in workflow/rules/; the Python package eet does the work.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all_tables:
    input:
        get_report_outputs(),
    default_target: True
