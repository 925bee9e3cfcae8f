# Hash-code extraction, retrieval evaluation and latency measurement.


rule extract_codes:
    input:
        model=f"{RESULTS}/{{dataset}}/{{bits}}/{{variant}}/model.pt",
        split=f"{RESULTS}/{{dataset}}/split.parquet",
        targets=f"{RESULTS}/{{dataset}}/targets/{{bits}}.npy",
    output:
        codes=f"{RESULTS}/{{dataset}}/{{bits}}/{{variant}}/codes.npz",
    log:
        f"{RESULTS}/logs/{{dataset}}/{{bits}}/{{variant}}/extract_codes.log",
    threads: config["train"]["threads"]
    script:
        "../scripts/extract_codes.py"


rule evaluate:
    input:
        codes=f"{RESULTS}/{{dataset}}/{{bits}}/{{variant}}/codes.npz",
        model=f"{RESULTS}/{{dataset}}/{{bits}}/{{variant}}/model.pt",
        latency=expand(f"{RESULTS}/latency/{{device}}.csv", device=LATENCY_DEVICES),
    output:
        metrics=f"{RESULTS}/{{dataset}}/{{bits}}/{{variant}}/metrics.json",
        pr_curve=f"{RESULTS}/{{dataset}}/{{bits}}/{{variant}}/pr_curve.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/{{bits}}/{{variant}}/evaluate.log",
    script:
        "../scripts/evaluate.py"


rule measure_latency:
    output:
        table=f"{RESULTS}/latency/{{device}}.csv",
    log:
        f"{RESULTS}/logs/latency/{{device}}.log",
    # Every core: timing runs alone so that other jobs do not disturb it.
    threads: workflow.cores
    script:
        "../scripts/measure_latency.py"
