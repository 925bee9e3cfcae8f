# EET reproduction workflow. Target rule: all_tables (every table and plot of the configured grid).
# Stages live in workflow/rules/; the Python package eet does the work.
from snakemake.utils import min_version

min_version("9.0")


# The embedded default applies only when no --configfile is given, so that config/paper.yaml (or a
# user's own file) replaces it instead of being merged into it.
if not workflow.overwrite_configfiles:

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
