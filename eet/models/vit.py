"""timm ViT with hash heads and content-based token pruning (CTP), the EET student and teacher.

EET is described in "Rethinking Vision Transformer for Large-Scale Fine-Grained Image Retrieval"
(Jiang, Tang, Pan, Li; arXiv 2504.16691). ``HashViT`` wraps an unmodified timm
``VisionTransformer`` as ``backbone``, so ``model.backbone.state_dict()`` has timm's keys and timm
checkpoints load unchanged. Pruning blocks run the block's own submodules through
``eet.models.attention``, and the other blocks are timm's modules with fused attention.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import timm
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from eet.models.attention import (
    attention_output_residual,
    check_scoring_block,
    explicit_matrix_is_cheaper,
    mixed_heads,
    mlp_residual,
)
from eet.models.pruning import (
    ctp_scores,
    gather_token_rows,
    gather_tokens_per_sample,
    kept_token_rows,
    select_patches,
)

logger = logging.getLogger(__name__)

# Keys of a model.teacher / model.student config section that build_hash_vit reads.
ARCH_KEYS = frozenset(
    {"name", "img_size", "patch_size", "embed_dim", "depth", "num_heads", "pretrained_file",
     "prune_blocks", "keep_counts"}
)
# Keys that override the defaults of the timm architecture when they are not null.
_TIMM_OVERRIDE_KEYS = ("img_size", "patch_size", "embed_dim", "depth", "num_heads")

TokenGather = Literal["batched", "per_sample"]


@dataclass
class HashViTOutput:
    """Outputs of one ``HashViT`` forward pass.

    Attributes:
        logits: (B, num_classes) class logits.
        hashes: real-valued hash outputs, one (B, K) tensor per bit length K; codes are their sign.
        kept_patches: one (B, keep_count) int64 tensor per pruning stage with the indices, in the
            original patch grid (row-major, 0 .. num_patches - 1), of the patches kept after that
            stage, ascending. Empty for models without pruning.
        importance: (B, num_patches) CTP score of every patch after the last block, when the
            forward pass was asked for it; otherwise None.
    """

    logits: torch.Tensor
    hashes: dict[int, torch.Tensor]
    kept_patches: tuple[torch.Tensor, ...] = ()
    importance: torch.Tensor | None = None


class HashViT(nn.Module):
    """A timm ViT backbone, one linear hash head per bit length, and optional CTP token pruning.

    Each hash head is ``nn.Linear(num_classes, K)`` applied to the class logits. With pruning,
    only the CLS token and the ``keep_counts[s]`` patch tokens with the highest CTP score go on
    after block ``prune_blocks[s]`` (1-based). Ties go to the lower patch index. The scores come
    from the block's attention, and the dropped tokens are discarded before the attention output
    projection (before the MLP on the reference path). The projection, the residuals and the MLP
    act on each token separately, so this keeps the same tokens with the same values as pruning
    after the whole block, without their work on dropped tokens.

    Args:
        backbone: a timm ``VisionTransformer`` with one CLS token and no register tokens.
        bits: hash code lengths, one head each.
        prune_blocks: 1-based ids of the blocks after which tokens are pruned; empty for no pruning.
        keep_counts: patch tokens kept after each pruning block.
        fast_path: in pruning blocks, score tokens with the fused attention kernel plus a
            separate CLS row (the explicit matrix where ``explicit_matrix_is_cheaper``) and drop
            tokens before the attention output projection. False is the reference path: the
            explicit attention matrix, and tokens dropped after the attention residual. Both
            keep the same tokens and give the same outputs up to float rounding.
        token_gather: ``batched`` (one ``index_select``) or ``per_sample`` (a Python loop over the
            batch, only as a latency baseline).
    """

    def __init__(
        self,
        backbone: VisionTransformer,
        bits: Sequence[int],
        prune_blocks: Sequence[int] = (),
        keep_counts: Sequence[int] = (),
        fast_path: bool = True,
        token_gather: TokenGather = "batched",
    ) -> None:
        super().__init__()
        if backbone.cls_token is None or backbone.num_prefix_tokens != 1:
            raise ValueError(
                "HashViT needs a ViT with exactly one CLS token and no register tokens, got "
                f"{backbone.num_prefix_tokens} prefix tokens (class_token={backbone.cls_token is not None})"
            )
        if token_gather not in ("batched", "per_sample"):
            raise ValueError(f"token_gather must be 'batched' or 'per_sample', got {token_gather!r}")
        for block_id in prune_blocks:
            check_scoring_block(backbone.blocks[block_id - 1], block_id)
        check_scoring_block(backbone.blocks[-1], len(backbone.blocks))

        self.backbone = backbone
        self.bits = tuple(int(k) for k in bits)
        self.hash_heads = nn.ModuleDict(
            {str(k): nn.Linear(backbone.num_classes, k) for k in self.bits}
        )
        # Map 0-based block index to the number of patches kept after it.
        self.keep_after_block = {b - 1: int(n) for b, n in zip(prune_blocks, keep_counts)}
        self.fast_path = fast_path
        self.token_gather = token_gather

    @property
    def num_patches(self) -> int:
        return self.backbone.patch_embed.num_patches

    @property
    def prunes(self) -> bool:
        return bool(self.keep_after_block)

    def forward(self, images: torch.Tensor, return_importance: bool = False) -> HashViTOutput:
        """Classify ``images`` and compute their hash outputs.

        Args:
            images: (B, 3, H, W) normalised images at the backbone's image size.
            return_importance: also return the last block's CTP score of every patch (the map
                that discriminative region guidance masks by). Only for models without pruning.

        Returns:
            A ``HashViTOutput``.
        """
        if return_importance and self.prunes:
            raise ValueError(
                "patch importance needs every patch token in the last block, but this model prunes "
                f"after blocks {sorted(b + 1 for b in self.keep_after_block)}; ask the unpruned "
                "teacher for it"
            )
        vit = self.backbone
        x = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(images))))
        # Original patch index of every patch token still present, to report kept patches.
        positions = torch.arange(self.num_patches, device=x.device).expand(x.shape[0], -1)
        kept_patches = []
        importance = None
        last_index = len(vit.blocks) - 1

        for index, block in enumerate(vit.blocks):
            keep_count = self.keep_after_block.get(index)
            wants_importance = return_importance and index == last_index
            if keep_count is None and not wants_importance:
                x = block(x)
                continue

            explicit = not self.fast_path or explicit_matrix_is_cheaper(
                x.shape[1], block.attn.head_dim, x.device
            )
            mixed, cls_attention, head_output_norms = mixed_heads(
                block.attn, block.norm1(x), explicit
            )
            patch_scores = ctp_scores(cls_attention, head_output_norms)[:, 1:]
            if wants_importance:
                importance = patch_scores
            if keep_count is None:
                x = attention_output_residual(block, x, mixed)
            else:
                selected = select_patches(patch_scores, keep_count)
                if self.fast_path:
                    # The output projection and the residual act on each token separately, so
                    # they run on the kept tokens only.
                    x, mixed = self._gather(selected, x, mixed)
                    x = attention_output_residual(block, x, mixed)
                else:
                    (x,) = self._gather(selected, attention_output_residual(block, x, mixed))
                positions = torch.gather(positions, 1, selected)
                kept_patches.append(positions)
            x = mlp_residual(block, x)

        logits = vit.forward_head(vit.norm(x))
        hashes = {k: self.hash_heads[str(k)](logits) for k in self.bits}
        return HashViTOutput(logits, hashes, tuple(kept_patches), importance)

    def _gather(
        self, patch_indices: torch.Tensor, *tokens: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        # Tensors of the same (B, N) tokens share one set of row indices.
        if self.token_gather == "per_sample":
            return tuple(gather_tokens_per_sample(t, patch_indices) for t in tokens)
        rows = kept_token_rows(patch_indices, tokens[0].shape[1])
        return tuple(gather_token_rows(t, rows) for t in tokens)

    def patch_importance(self, images: torch.Tensor) -> torch.Tensor:
        """Return the (B, num_patches) CTP score of every patch after the last block.

        The score uses the same formula as CTP. Only models without pruning have every patch in
        the last block; others raise ``ValueError``.
        """
        return self.forward(images, return_importance=True).importance


def _validate_pruning(
    prune_blocks: Sequence[int], keep_counts: Sequence[int], depth: int, num_patches: int,
    config_key: str,
) -> None:
    if len(prune_blocks) != len(keep_counts):
        raise ValueError(
            f"{config_key}.prune_blocks {list(prune_blocks)} and {config_key}.keep_counts "
            f"{list(keep_counts)} must have the same length, one keep count per pruning block"
        )
    if not prune_blocks:
        raise ValueError(
            f"{config_key}.prune_blocks is empty but pruning is on; list at least one block"
        )
    for block_id in prune_blocks:
        if not 1 <= block_id <= depth:
            raise ValueError(
                f"{config_key}.prune_blocks {list(prune_blocks)} has block {block_id} outside "
                f"1..{depth} (1-based ids within the model depth); fix {config_key}.prune_blocks"
            )
    if any(b >= a for a, b in zip(prune_blocks[1:], prune_blocks)):
        raise ValueError(
            f"{config_key}.prune_blocks {list(prune_blocks)} must be strictly increasing"
        )

    present = num_patches
    for block_id, count in zip(prune_blocks, keep_counts):
        if not 1 <= count <= present:
            raise ValueError(
                f"{config_key}.keep_counts {list(keep_counts)} keeps {count} patches after block "
                f"{block_id}, where {present} are present; counts must be positive and "
                f"non-increasing, at most the {num_patches} patches of the image; fix "
                f"{config_key}.keep_counts"
            )
        present = count


def build_hash_vit(
    arch: Mapping,
    num_classes: int,
    bits: Sequence[int],
    prune: bool,
    fast_path: bool = True,
    token_gather: TokenGather = "batched",
    *,
    config_key: str,
) -> HashViT:
    """Build a ``HashViT`` from a ``model.teacher`` or ``model.student`` config section.

    Args:
        arch: config section with ``name`` (a timm architecture), optional overrides
            ``img_size``, ``patch_size``, ``embed_dim``, ``depth``, ``num_heads`` (null keeps
            timm's value), ``pretrained_file`` (a local timm checkpoint or null), and for pruning
            ``prune_blocks`` (1-based) and ``keep_counts``.
        num_classes: classes of the dataset; the classifier head is new even with a checkpoint.
        bits: hash code lengths, one hash head each.
        prune: apply CTP with ``prune_blocks`` / ``keep_counts``; False ignores those keys.
        fast_path: compute the token scores without the explicit attention matrix where that is
            faster, and drop tokens before the attention output projection (see ``HashViT``);
            False is the reference path.
        token_gather: ``batched`` or ``per_sample`` (latency baseline only).
        config_key: where ``arch`` comes from, named in errors (``model.teacher`` or
            ``model.student`` for a config section).

    Returns:
        The model in training mode.
    """
    unknown = sorted(set(arch) - ARCH_KEYS)
    if unknown:
        raise ValueError(
            f"{config_key} has unknown keys {unknown}; the known keys are {sorted(ARCH_KEYS)}"
        )
    if "name" not in arch:
        raise ValueError(f"{config_key}.name is missing; give a timm architecture name")
    if not timm.is_model(arch["name"]):
        raise ValueError(
            f"{config_key}.name {arch['name']!r} is not a timm model; give a timm ViT name such "
            "as vit_small_patch16_224"
        )
    if not bits:
        raise ValueError("bits is empty; give at least one hash code length")

    kwargs = {key: arch[key] for key in _TIMM_OVERRIDE_KEYS if arch.get(key) is not None}
    pretrained_file = arch.get("pretrained_file")
    if pretrained_file is not None:
        path = Path(pretrained_file)
        if not path.is_file():
            raise FileNotFoundError(
                f"{config_key}.pretrained_file {str(path)!r} does not exist; give a local timm "
                "checkpoint (.pth, .bin or .safetensors) or null to train from scratch"
            )
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
        logger.info("loading %s weights from %s", arch["name"], path)

    try:
        backbone = timm.create_model(
            arch["name"], pretrained=pretrained_file is not None, num_classes=num_classes, **kwargs
        )
    except (RuntimeError, ValueError, OSError) as error:
        if pretrained_file is None:
            raise
        raise ValueError(
            f"{config_key}.pretrained_file {str(pretrained_file)!r} could not be loaded into "
            f"{arch['name']!r}: {error}. Give a timm checkpoint of this architecture, or null to "
            "train from scratch"
        ) from error
    if not isinstance(backbone, VisionTransformer):
        raise ValueError(
            f"{config_key}.name {arch['name']!r} builds a {type(backbone).__name__}, not a timm "
            "VisionTransformer; choose a ViT architecture such as vit_small_patch16_224"
        )

    prune_blocks: list[int] = []
    keep_counts: list[int] = []
    if prune:
        prune_blocks = list(arch.get("prune_blocks") or [])
        keep_counts = list(arch.get("keep_counts") or [])
        _validate_pruning(
            prune_blocks, keep_counts, len(backbone.blocks), backbone.patch_embed.num_patches,
            config_key,
        )
    model = HashViT(backbone, bits, prune_blocks, keep_counts, fast_path, token_gather)
    logger.info(
        "built %s: %d blocks, %d patches, pruning %s, %.2fM parameters",
        arch["name"], len(backbone.blocks), model.num_patches,
        dict(zip(prune_blocks, keep_counts)) or "off",
        sum(p.numel() for p in model.parameters()) / 1e6,
    )
    return model
