# Tables (CSV, Markdown, LaTeX) and plots of the whole grid.


rule tables:
    input:
        metrics=[f"{cell}/metrics.json" for cell in get_cell_dirs()],
        latency=expand(f"{RESULTS}/latency/{{device}}.csv", device=LATENCY_DEVICES),
    output:
        long=f"{RESULTS}/tables/results_long.csv",
        map_asymmetric=f"{RESULTS}/tables/map_asymmetric.csv",
        map_asymmetric_md=f"{RESULTS}/tables/map_asymmetric.md",
        map_asymmetric_tex=f"{RESULTS}/tables/map_asymmetric.tex",
        map_symmetric=f"{RESULTS}/tables/map_symmetric.csv",
        map_symmetric_md=f"{RESULTS}/tables/map_symmetric.md",
        latency=f"{RESULTS}/tables/latency.csv",
        latency_md=f"{RESULTS}/tables/latency.md",
    log:
        f"{RESULTS}/logs/tables.log",
    params:
        cells=get_cell_dirs(),
    script:
        "../scripts/make_tables.py"


rule plots:
    input:
        long=f"{RESULTS}/tables/results_long.csv",
        latency=f"{RESULTS}/tables/latency.csv",
    output:
        map_vs_bits=f"{RESULTS}/plots/map_vs_bits.png",
        latency_vs_map=f"{RESULTS}/plots/latency_vs_map.png",
    log:
        f"{RESULTS}/logs/plots.log",
    script:
        "../scripts/make_plots.py"
