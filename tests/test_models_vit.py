"""HashViT with CTP on tiny random ViTs, checked against timm and a direct score computation."""

import math

import pytest
import timm
import torch

from eet.bench.flops import count_flops_per_image
from eet.models.vit import build_hash_vit

TINY = {
    "name": "vit_small_patch16_224", "img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 4,
    "num_heads": 3, "pretrained_file": None, "prune_blocks": [1, 3], "keep_counts": [10, 3],
}
NUM_PATCHES = 16
NUM_CLASSES = 5
STUDENT = "model.student"


def build(prune=True, **overrides):
    torch.manual_seed(0)
    arch = {**TINY, **overrides}
    return build_hash_vit(arch, NUM_CLASSES, [8, 16], prune=prune, config_key=STUDENT).eval()


def images(batch=3):
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def direct_scores(block, x):
    """CTP score of every token from the formula, one head at a time, with the full attention."""
    attn = block.attn
    h = block.norm1(x)
    qkv = h @ attn.qkv.weight.T + attn.qkv.bias
    width = attn.num_heads * attn.head_dim
    norms, cls_rows = [], []
    for head in range(attn.num_heads):
        cols = slice(head * attn.head_dim, (head + 1) * attn.head_dim)
        q = qkv[..., cols]
        k = qkv[..., width:][..., cols]
        v = qkv[..., 2 * width:][..., cols]
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(attn.head_dim), dim=-1)
        norms.append((weights @ v).norm(dim=-1))
        cls_rows.append(weights[:, 0])
    norms = torch.stack(norms)
    return sum((norms[h] / norms.sum(0)) * cls_rows[h] for h in range(attn.num_heads))


def direct_pruned_forward(model, x):
    """Pruned forward built from timm blocks, the direct score and per-image top-k."""
    vit = model.backbone
    tokens = vit._pos_embed(vit.patch_embed(x))
    positions = [list(range(NUM_PATCHES)) for _ in range(x.shape[0])]
    kept_per_stage = []
    for index, block in enumerate(vit.blocks):
        scores = direct_scores(block, tokens)
        tokens = block(tokens)
        keep = model.keep_after_block.get(index)
        if keep is None:
            continue
        rows, stage = [], []
        for b in range(x.shape[0]):
            best = sorted(torch.argsort(scores[b, 1:], descending=True)[:keep].tolist())
            rows.append(torch.cat([tokens[b, :1], tokens[b, 1:][best]]))
            positions[b] = [positions[b][i] for i in best]
            stage.append(positions[b])
        tokens = torch.stack(rows)
        kept_per_stage.append(stage)
    return vit.forward_head(vit.norm(tokens)), kept_per_stage


def test_ctp_keeps_configured_counts():
    with torch.no_grad():
        out = build()(images())

    assert [tuple(kept.shape) for kept in out.kept_patches] == [(3, 10), (3, 3)]
    for kept in out.kept_patches:
        assert all(len(set(row)) == len(row) for row in kept.tolist())


def test_ctp_keeps_cls_token():
    model = build()
    x = images()
    entering = {}
    # norm1 is the first module a block applies to its input.
    model.backbone.blocks[1].norm1.register_forward_pre_hook(
        lambda module, args: entering.update(x=args[0])
    )
    with torch.no_grad():
        vit = model.backbone
        first_block_out = vit.blocks[0](vit._pos_embed(vit.patch_embed(x)))
        model(x)

    assert entering["x"].shape[1] == 1 + 10
    torch.testing.assert_close(entering["x"][:, 0], first_block_out[:, 0])


def test_ctp_keeps_top_scored_tokens():
    model = build()
    x = images()
    with torch.no_grad():
        out = model(x)
        expected_logits, expected_kept = direct_pruned_forward(model, x)

    for stage, kept in enumerate(out.kept_patches):
        assert kept.tolist() == expected_kept[stage], f"stage {stage}"
    torch.testing.assert_close(out.logits, expected_logits)


@pytest.mark.parametrize("fast_path", [True, False])
def test_ctp_keep_all_equals_unpruned(fast_path):
    keep_all = build(keep_counts=[NUM_PATCHES, NUM_PATCHES])
    keep_all.fast_path = fast_path
    unpruned = build(prune=False)
    unpruned.load_state_dict(keep_all.state_dict())
    x = images()
    with torch.no_grad():
        pruned_out, plain_out = keep_all(x), unpruned(x)

    torch.testing.assert_close(pruned_out.logits, plain_out.logits)
    for bits in (8, 16):
        torch.testing.assert_close(pruned_out.hashes[bits], plain_out.hashes[bits])


def test_unpruned_student_matches_timm():
    reference = timm.create_model(
        "vit_small_patch16_224", num_classes=NUM_CLASSES, img_size=32, patch_size=8,
        embed_dim=48, depth=4, num_heads=3,
    ).eval()
    student = build(prune=False)
    student.backbone.load_state_dict(reference.state_dict())
    x = images()
    with torch.no_grad():
        expected = reference(x)
        out = student(x)

    torch.testing.assert_close(out.logits, expected, rtol=0, atol=0)


VIT_S_PRUNED = {
    "name": "vit_small_patch16_224", "prune_blocks": [4, 8, 10], "keep_counts": [98, 49, 12],
}


@pytest.mark.parametrize("batch", [1, 2])
def test_fast_path_matches_explicit_vit_s(batch):
    # ViT-S/16 at 224 keeping 98, 49 and 12 patches after blocks 4, 8 and 10. Float64 keeps
    # near-equal scores of a random model from swapping places through rounding differences.
    torch.manual_seed(0)
    fast = build_hash_vit(VIT_S_PRUNED, 10, [64], prune=True, fast_path=True, config_key=STUDENT)
    explicit = build_hash_vit(
        VIT_S_PRUNED, 10, [64], prune=True, fast_path=False, config_key=STUDENT
    )
    fast, explicit = fast.eval().double(), explicit.eval().double()
    explicit.load_state_dict(fast.state_dict())
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(batch, 3, 224, 224, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        fast_out, explicit_out = fast(x), explicit(x)

    for stage, (kept_fast, kept_explicit) in enumerate(
        zip(fast_out.kept_patches, explicit_out.kept_patches)
    ):
        assert torch.equal(kept_fast, kept_explicit), f"stage {stage}"
    torch.testing.assert_close(fast_out.logits, explicit_out.logits)
    torch.testing.assert_close(fast_out.hashes[64], explicit_out.hashes[64])


def test_fast_path_skips_projection_of_dropped_tokens():
    # Per image, the fast path skips the 384 x 384 attention output projection of the tokens
    # dropped after blocks 4, 8 and 10: (197 - 99) + (99 - 50) + (50 - 13) = 184 rows. On the
    # CPU it adds a separate CLS row in block 4 only, one 384-wide dot product per token (197),
    # because blocks 8 and 10 (99 and 50 tokens, at most 2 x 64) use the explicit matrix. Both
    # at 2 FLOPs per multiply-add.
    fast = build_hash_vit(VIT_S_PRUNED, 10, [64], prune=True, fast_path=True, config_key=STUDENT)
    explicit = build_hash_vit(
        VIT_S_PRUNED, 10, [64], prune=True, fast_path=False, config_key=STUDENT
    )

    saved = count_flops_per_image(explicit, 224) - count_flops_per_image(fast, 224)

    assert saved == 2 * (184 * 384 * 384 - 197 * 384)


def test_per_sample_gather_matches_batched():
    batched = build()
    per_sample = build_hash_vit(
        TINY, NUM_CLASSES, [8, 16], prune=True, token_gather="per_sample", config_key=STUDENT
    )
    per_sample.load_state_dict(batched.state_dict())
    x = images()
    with torch.no_grad():
        torch.testing.assert_close(per_sample.eval()(x).logits, batched(x).logits)


def test_hash_heads_read_logits():
    model = build()
    with torch.no_grad():
        out = model(images())
        expected = model.hash_heads["16"](out.logits)

    assert out.hashes[16].shape == (3, 16)
    torch.testing.assert_close(out.hashes[16], expected)


def test_patch_importance_matches_direct_score():
    model = build(prune=False)
    x = images()
    vit = model.backbone
    with torch.no_grad():
        tokens = vit._pos_embed(vit.patch_embed(x))
        for block in vit.blocks[:-1]:
            tokens = block(tokens)
        expected = direct_scores(vit.blocks[-1], tokens)[:, 1:]
        importance = model.patch_importance(x)

    assert importance.shape == (3, NUM_PATCHES)
    torch.testing.assert_close(importance, expected)


def test_patch_importance_rejects_pruned_model():
    with pytest.raises(ValueError, match="ask the unpruned teacher"):
        build().patch_importance(images())


def test_pruned_forward_backpropagates():
    model = build().train()
    out = model(images())
    (out.logits.sum() + out.hashes[8].sum()).backward()

    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    assert model.hash_heads["8"].weight.grad.abs().sum() > 0
