# Config validation, output paths and helpers shared by every rule file.
import os
import re

# The rules' scripts import eet from the project's environment; a checkout without an installed
# package still works because the repository root goes on the path of every script.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from eet.config import check_config, check_pretrained_files, validate_config

# Types and unknown keys (JSON schema), then defaults filled in.
validate_config(config)

# Registry names, dataset options and pruning schedules, checked before any job runs. The
# pretrained files are checked in onstart, which dry runs skip. In Snakemake 9 workflow.dryrun is
# False while this file is read, so a check here would stop a dry run of a grid whose weights are
# not in place yet.
check_config(config, check_files=False)

RESULTS = config["results_dir"].rstrip("/")
RESOURCES = config["resources_dir"].rstrip("/")
DATASETS = list(config["datasets"])
BITS = [int(bits) for bits in config["bits"]]
VARIANTS = list(config["variants"])
LATENCY_DEVICES = list(config["latency"]["devices"])
TEACHER_VARIANTS = {"eet", "ctp+dkt", "ctp+drg"}


def _alternatives(values):
    return "|".join(re.escape(str(value)) for value in values)


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    bits=r"\d+",
    variant=_alternatives(VARIANTS),
    device=_alternatives(LATENCY_DEVICES),


def get_cell_dirs():
    """Every cell folder of the configured grid: results/<dataset>/<bits>/<variant>."""
    return [
        f"{RESULTS}/{dataset}/{bits}/{variant}"
        for dataset in DATASETS
        for bits in BITS
        for variant in VARIANTS
    ]


def get_teacher_input(wildcards):
    """The frozen teacher, for the variants that learn from it."""
    if wildcards.variant in TEACHER_VARIANTS:
        return {"teacher": f"{RESULTS}/{wildcards.dataset}/teacher/model.pt"}
    return {}


def get_report_outputs():
    return [
        f"{RESULTS}/tables/map_asymmetric.csv",
        f"{RESULTS}/tables/map_asymmetric.md",
        f"{RESULTS}/tables/map_asymmetric.tex",
        f"{RESULTS}/tables/map_symmetric.csv",
        f"{RESULTS}/tables/map_symmetric.md",
        f"{RESULTS}/tables/latency.csv",
        f"{RESULTS}/tables/latency.md",
        f"{RESULTS}/plots/map_vs_bits.png",
        f"{RESULTS}/plots/latency_vs_map.png",
    ]


onstart:
    check_pretrained_files(config)
    # Create the MLflow store once: parallel jobs creating a fresh SQLite store race on its schema.
    from eet.tracking import ensure_store, resolve_tracking_uri

    ensure_store(resolve_tracking_uri(config), config["mlflow"]["experiment"])
