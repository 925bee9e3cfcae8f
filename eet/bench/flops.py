"""FLOP and parameter counts of a model's forward pass."""

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode


def count_flops_per_image(model: nn.Module, image_size: int) -> int:
    """Count the FLOPs of one forward pass on one image with torch's ``FlopCounterMode``.

    The count covers matrix products and convolutions (2 FLOPs per multiply-add), which is how
    ``FlopCounterMode`` counts; softmax, normalisation and activations are not counted. Attention
    runs through the math backend here because torch 2.14's counter has no formula for the CPU
    flash kernel, so the fused and explicit attention paths are counted alike.

    Args:
        model: the model, on any device; it is run once in eval mode in float32 and restored.
        image_size: side of the square (1, 3, image_size, image_size) input.

    Returns:
        FLOPs for one image.
    """
    parameter = next(model.parameters())
    images = torch.randn(1, 3, image_size, image_size, device=parameter.device)
    was_training = model.training
    original_dtype = parameter.dtype
    model.eval().float()
    try:
        with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH):
            counter = FlopCounterMode(display=False)
            with counter:
                model(images)
    finally:
        model.to(original_dtype).train(was_training)
    return counter.get_total_flops()


def count_parameters(model: nn.Module) -> int:
    """Return the number of parameters of ``model``."""
    return sum(parameter.numel() for parameter in model.parameters())
