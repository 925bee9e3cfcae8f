# Target codes, teacher fine-tuning and student distillation.


rule target_codes:
    input:
        split=f"{RESULTS}/{{dataset}}/split.parquet",
        # Every image decodes before anything trains on it.
        image_report=f"{RESULTS}/{{dataset}}/image_report.json",
    output:
        codes=f"{RESULTS}/{{dataset}}/targets/{{bits}}.npy",
    log:
        f"{RESULTS}/logs/{{dataset}}/target_codes_{{bits}}.log",
    params:
        targets=config["targets"],
        seed=config["seed"],
    script:
        "../scripts/target_codes.py"


rule train_teacher:
    input:
        split=f"{RESULTS}/{{dataset}}/split.parquet",
        targets=expand(f"{RESULTS}/{{{{dataset}}}}/targets/{{bits}}.npy", bits=BITS),
    output:
        model=f"{RESULTS}/{{dataset}}/teacher/model.pt",
    log:
        f"{RESULTS}/logs/{{dataset}}/train_teacher.log",
    params:
        bits=BITS,
    threads: config["train"]["threads"]
    script:
        "../scripts/train_teacher.py"


rule train_student:
    input:
        unpack(get_teacher_input),
        split=f"{RESULTS}/{{dataset}}/split.parquet",
        targets=f"{RESULTS}/{{dataset}}/targets/{{bits}}.npy",
    output:
        model=f"{RESULTS}/{{dataset}}/{{bits}}/{{variant}}/model.pt",
    log:
        f"{RESULTS}/logs/{{dataset}}/{{bits}}/{{variant}}/train_student.log",
    threads: config["train"]["threads"]
    script:
        "../scripts/train_student.py"
