# Datasets: prepare (download, verify, extract or generate), split table, image verification.
# The data itself lives under each dataset's configured root; results/ only gets small summaries.


def get_dataset_config(wildcards):
    """The config entry (root, options, known_bad_images) of one dataset."""
    return config["datasets"][wildcards.dataset]


rule prepare_dataset:
    output:
        summary=f"{RESULTS}/{{dataset}}/prepared.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/prepare_dataset.log",
    params:
        dataset=get_dataset_config,
        resources=RESOURCES,
        seed=config["seed"],
    script:
        "../scripts/prepare_dataset.py"


rule split_dataset:
    input:
        prepared=f"{RESULTS}/{{dataset}}/prepared.json",
    output:
        split=f"{RESULTS}/{{dataset}}/split.parquet",
    log:
        f"{RESULTS}/logs/{{dataset}}/split_dataset.log",
    params:
        dataset=get_dataset_config,
    script:
        "../scripts/split_dataset.py"


rule verify_images:
    input:
        split=f"{RESULTS}/{{dataset}}/split.parquet",
    output:
        report=f"{RESULTS}/{{dataset}}/image_report.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/verify_images.log",
    params:
        dataset=get_dataset_config,
    script:
        "../scripts/verify_images.py"
