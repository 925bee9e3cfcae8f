"""Inference latency, throughput, FLOPs and parameters of the teacher and the student variants.

Protocol: the forward pass alone runs on random inputs, in ``eval()`` and inference mode, with a
fixed thread count on the CPU and CUDA synchronised around every timed call. After an untimed
warm-up, every round calls each model once in a rotating order, so slow drifts of the machine hit
all models alike. Rows report the median and the 90th percentile.
"""

import logging
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import timm
import torch
from torch import nn
from tqdm import tqdm

from eet.atomic import atomic_output
from eet.bench.flops import count_flops_per_image, count_parameters
from eet.models.vit import build_hash_vit

logger = logging.getLogger(__name__)

# Models in table order. timm_vit_s16_224 is timm's own ViT-S/16 at 224, the unpruned model that
# EET's 42.7% latency reduction is stated against. The others come from model.teacher/student.
MODEL_NAMES = ("teacher", "vit", "eet", "eet_explicit", "eet_per_sample_gather", "timm_vit_s16_224")
REFERENCE_TIMM = "timm_vit_s16_224"
# Classes of the classifier head when latency.num_classes is absent (CUB-200-2011's 200). The head
# and hash heads are a negligible share of the FLOPs.
DEFAULT_NUM_CLASSES = 200

COLUMNS = (
    "model", "device", "device_name", "dtype", "batch_size", "threads", "img_size", "median_ms",
    "p90_ms", "images_per_s", "gflops_per_image", "params", "flop_ratio", "latency_ratio",
    "flop_ratio_timm", "latency_ratio_timm", "warmup", "iterations", "torch_version",
    "timm_version",
)
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def build_latency_models(
    config: Mapping, models: Sequence[str] = MODEL_NAMES
) -> dict[str, tuple[nn.Module, int]]:
    """Build the requested models with random weights, each with its input image size.

    Args:
        config: the workflow config with ``model.teacher``, ``model.student``, ``bits`` and
            ``latency`` (``num_classes`` is optional).
        models: names from ``MODEL_NAMES``.

    Returns:
        ``{name: (model in eval mode on the CPU, image size)}`` in the order of ``models``.
    """
    unknown = [name for name in models if name not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown latency models {unknown}; choose from {list(MODEL_NAMES)}")
    num_classes = int(config.get("latency", {}).get("num_classes", DEFAULT_NUM_CLASSES))
    bits = list(config.get("bits") or [64])
    # Latency does not depend on the weights, so no pretrained file is read.
    teacher_arch = {**config["model"]["teacher"], "pretrained_file": None}
    student_arch = {**config["model"]["student"], "pretrained_file": None}
    student_size = _image_size(student_arch)

    def student(prune: bool, **options) -> tuple[nn.Module, int]:
        model = build_hash_vit(
            student_arch, num_classes, [max(bits)], prune, **options, config_key="model.student"
        )
        return model, student_size

    # The teacher carries one hash head per bit length; a student serves one length.
    builders: dict[str, Callable[[], tuple[nn.Module, int]]] = {
        "teacher": lambda: (
            build_hash_vit(teacher_arch, num_classes, bits, prune=False, config_key="model.teacher"),
            _image_size(teacher_arch),
        ),
        "vit": lambda: student(prune=False),
        "eet": lambda: student(prune=True),
        "eet_explicit": lambda: student(prune=True, fast_path=False),
        "eet_per_sample_gather": lambda: student(prune=True, token_gather="per_sample"),
        REFERENCE_TIMM: lambda: (
            timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=num_classes),
            224,
        ),
    }
    built = {}
    for name in models:
        torch.manual_seed(0)
        model, image_size = builders[name]()
        built[name] = (model.eval(), image_size)
    return built


def _image_size(arch: Mapping) -> int:
    if arch.get("img_size") is not None:
        return int(arch["img_size"])
    return int(timm.create_model(arch["name"], pretrained=False).patch_embed.img_size[0])


def time_models(
    models: Mapping[str, nn.Module],
    inputs: Mapping[str, torch.Tensor],
    warmup: int,
    iterations: int,
    device: torch.device,
) -> dict[str, list[float]]:
    """Time forward passes of several models in alternating rounds.

    Each model runs ``warmup`` untimed calls, then every round calls each model once, starting
    one model later than the round before. On CUDA, the device is synchronised before the clock
    starts and before it stops.

    Args:
        models: models in eval mode on ``device``.
        inputs: one input batch per model name.
        warmup: untimed calls per model.
        iterations: timed calls per model.
        device: device the models run on.

    Returns:
        ``{name: per-call latencies in seconds}``.
    """
    names = list(models)
    on_cuda = device.type == "cuda"
    latencies: dict[str, list[float]] = {name: [] for name in names}
    with torch.inference_mode():
        for name in names:
            for _ in range(warmup):
                models[name](inputs[name])
        for round_index in tqdm(range(iterations), desc="timed rounds", leave=False):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                if on_cuda:
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                models[name](inputs[name])
                if on_cuda:
                    torch.cuda.synchronize(device)
                latencies[name].append(time.perf_counter() - start)
    return latencies


def paired_comparison(
    first: Sequence[float], second: Sequence[float], resamples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Compare two models timed in the same rounds of ``time_models``, round by round.

    Both models ran once in every round, so the per-round difference ``first[i] - second[i]``
    cancels drifts of the machine that last longer than a round. The confidence interval of its
    median is a percentile bootstrap over rounds.

    Args:
        first: per-round latencies of the first model, in round order.
        second: per-round latencies of the second model, same length.
        resamples: bootstrap resamples.
        seed: seed of the bootstrap's random generator.

    Returns:
        ``median_first``, ``median_second``, ``median_ratio`` (first over second),
        ``median_difference`` with its 95% interval ``difference_low`` and ``difference_high``
        (all in the unit of the inputs), ``first_faster_share`` (share of rounds in which the
        first model was strictly faster) and ``rounds``.
    """
    if len(first) != len(second) or not first:
        raise ValueError(
            f"paired latencies need the same number of rounds, at least one, got {len(first)} "
            f"and {len(second)}"
        )
    differences = torch.tensor(first, dtype=torch.float64) - torch.tensor(
        second, dtype=torch.float64
    )
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(first), (resamples, len(first)), generator=generator)
    # torch.median returns the lower middle value of an even count, so quantile(0.5) is used.
    boot_medians = differences[picks].quantile(0.5, dim=1)
    low, high = torch.quantile(boot_medians, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return {
        "median_first": statistics.median(first),
        "median_second": statistics.median(second),
        "median_ratio": statistics.median(first) / statistics.median(second),
        "median_difference": statistics.median(differences.tolist()),
        "difference_low": float(low),
        "difference_high": float(high),
        "first_faster_share": float((differences < 0).double().mean()),
        "rounds": len(first),
    }


def device_name(device: torch.device) -> str:
    """Return the CUDA device name, or the CPU model name from /proc/cpuinfo where available."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def measure_latency(
    config: Mapping, device: str, models: Sequence[str] | None = None
) -> pd.DataFrame:
    """Measure latency, throughput, FLOPs and parameters of every model on one device.

    Args:
        config: the workflow config; its ``latency`` section sets ``batch_sizes`` and ``threads``
            (CPU), ``cuda_batch_sizes`` and ``cuda_dtypes`` (CUDA), ``warmup``, ``iterations``
            (one count, or a list with one count per batch size) and ``reference_timm``.
        device: ``cpu``, ``cuda`` or ``cuda:<index>``.
        models: names from ``MODEL_NAMES``; by default all, without the timm reference unless
            ``latency.reference_timm`` is true.

    Returns:
        One row per model x batch size x dtype with the columns in ``COLUMNS``.
    """
    settings = config["latency"]
    torch_device = torch.device(device)
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"latency device {device!r} requested but CUDA is not available on this machine; run "
            f"this job on a CUDA machine, or remove {device!r} from latency.devices"
        )
    if torch_device.type not in ("cpu", "cuda"):
        raise ValueError(f"latency device must be cpu or cuda, got {device!r}")
    warmup = int(settings["warmup"])
    if warmup < 0:
        raise ValueError(f"latency.warmup must be at least 0, got {warmup}")
    if models is None:
        models = [name for name in MODEL_NAMES if name != REFERENCE_TIMM]
        if settings.get("reference_timm", False):
            models.append(REFERENCE_TIMM)

    for dtype_name in settings.get("cuda_dtypes", []):
        if dtype_name not in _DTYPES:
            raise ValueError(
                f"latency.cuda_dtypes has {dtype_name!r}; choose from {sorted(_DTYPES)}"
            )
    if torch_device.type == "cuda":
        batch_sizes = list(settings["cuda_batch_sizes"])
        dtype_names = list(settings["cuda_dtypes"])
    else:
        torch.set_num_threads(int(settings["threads"]))
        batch_sizes = list(settings["batch_sizes"])
        dtype_names = ["float32"]
    iterations = _iterations_per_batch_size(settings["iterations"], batch_sizes)

    built = build_latency_models(config, models)
    flops = {name: count_flops_per_image(model, size) for name, (model, size) in built.items()}
    params = {name: count_parameters(model) for name, (model, _) in built.items()}
    name_of_device = device_name(torch_device)
    logger.info(
        "timing %s on %s (%s), batch sizes %s, dtypes %s, %d threads, %d warm-up calls and %s "
        "timed calls each", list(built), device, name_of_device, batch_sizes, dtype_names,
        torch.get_num_threads(), warmup, "/".join(map(str, iterations)),
    )

    rows = []
    for dtype_name in dtype_names:
        dtype = _DTYPES[dtype_name]
        on_device = {name: model.to(torch_device, dtype) for name, (model, _) in built.items()}
        for batch_size, batch_iterations in zip(batch_sizes, iterations):
            generator = torch.Generator().manual_seed(batch_size)
            inputs = {
                name: torch.randn(batch_size, 3, size, size, generator=generator)
                .to(torch_device, dtype)
                for name, (_, size) in built.items()
            }
            latencies = time_models(on_device, inputs, warmup, batch_iterations, torch_device)
            for name, (_, size) in built.items():
                median_s = statistics.median(latencies[name])
                rows.append({
                    "model": name, "device": torch_device.type, "device_name": name_of_device,
                    "dtype": dtype_name, "batch_size": batch_size,
                    "threads": torch.get_num_threads(), "img_size": size,
                    "median_ms": 1000 * median_s,
                    "p90_ms": 1000 * _percentile(latencies[name], 0.9),
                    "images_per_s": batch_size / median_s,
                    "gflops_per_image": flops[name] / 1e9, "params": params[name],
                    "warmup": warmup, "iterations": batch_iterations,
                    "torch_version": torch.__version__, "timm_version": timm.__version__,
                })
            logger.info(
                "%s batch %d: %s", dtype_name, batch_size,
                ", ".join(f"{row['model']} {row['median_ms']:.1f} ms" for row in rows[-len(built):]),
            )
        for model, _ in built.values():
            model.to("cpu", torch.float32)

    table = pd.DataFrame(rows)
    _add_ratios(table, "vit", "flop_ratio", "latency_ratio")
    _add_ratios(table, REFERENCE_TIMM, "flop_ratio_timm", "latency_ratio_timm")
    return table[list(COLUMNS)]


def _iterations_per_batch_size(
    iterations: int | Sequence[int], batch_sizes: Sequence[int]
) -> list[int]:
    # One count for every batch size, or one count per batch size in the same order.
    if isinstance(iterations, Sequence):
        counts = list(iterations)
    else:
        counts = [iterations] * len(batch_sizes)
    if len(counts) != len(batch_sizes):
        raise ValueError(
            f"latency.iterations has {len(counts)} counts for the batch sizes {list(batch_sizes)}; "
            "give one count for all or one per batch size"
        )
    if any(int(count) < 1 for count in counts):
        raise ValueError(f"latency.iterations must be at least 1, got {counts}")
    return [int(count) for count in counts]


def _add_ratios(table: pd.DataFrame, reference: str, flop_column: str, latency_column: str) -> None:
    # Ratios compare models of the same device, dtype and batch size. They are NaN without the
    # reference model.
    keys = ["device", "dtype", "batch_size"]
    base = table.loc[table["model"] == reference, keys + ["gflops_per_image", "median_ms"]]
    base = base.rename(columns={"gflops_per_image": "_base_gflops", "median_ms": "_base_ms"})
    merged = table[keys].merge(base, on=keys, how="left")
    table[flop_column] = table["gflops_per_image"].to_numpy() / merged["_base_gflops"].to_numpy()
    table[latency_column] = table["median_ms"].to_numpy() / merged["_base_ms"].to_numpy()


def write_latency_report(
    config: Mapping, device: str, out_csv: Path, models: Sequence[str] | None = None
) -> pd.DataFrame:
    """Measure latency with ``measure_latency`` and write the table as CSV.

    The CSV is written to a temporary file in the same folder and renamed, so an interrupted run
    leaves no partial file under ``out_csv``.

    Args:
        config: the workflow config (see ``measure_latency``).
        device: ``cpu``, ``cuda`` or ``cuda:<index>``.
        out_csv: path of the CSV file.
        models: names from ``MODEL_NAMES``; by default as in ``measure_latency``.

    Returns:
        The table that was written.
    """
    table = measure_latency(config, device, models)
    with atomic_output(out_csv) as temporary:
        table.to_csv(temporary, index=False)
    logger.info("wrote %d latency rows to %s", len(table), out_csv)
    return table
