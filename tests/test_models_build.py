"""build_hash_vit: config validation and offline loading of a local timm checkpoint."""

import pytest
import timm
import torch

from eet.models.vit import build_hash_vit

TINY = {
    "name": "vit_small_patch16_224", "img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 4,
    "num_heads": 3, "pretrained_file": None, "prune_blocks": [1, 3], "keep_counts": [10, 3],
}


@pytest.mark.parametrize(
    ("prune_blocks", "keep_counts", "message"),
    [
        ([1, 3], [10, 12], r"model\.student\.keep_counts \[10, 12\] keeps 12 patches after block 3"),
        ([1, 3], [17, 3], r"keeps 17 patches after block 1, where 16 are present"),
        ([1, 3], [0, 0], r"keeps 0 patches"),
        ([0, 3], [10, 3], r"block 0 outside 1\.\.4"),
        ([1, 5], [10, 3], r"block 5 outside 1\.\.4"),
        ([3, 1], [10, 3], r"model\.student\.prune_blocks \[3, 1\] must be strictly increasing"),
        ([1, 3], [10], r"must have the same length"),
        ([], [], r"prune_blocks is empty"),
    ],
)
def test_build_rejects_bad_schedule(prune_blocks, keep_counts, message):
    arch = {**TINY, "prune_blocks": prune_blocks, "keep_counts": keep_counts}

    with pytest.raises(ValueError, match=message):
        build_hash_vit(arch, 5, [16], prune=True, config_key="model.student")


def test_build_ignores_schedule_without_pruning():
    arch = {**TINY, "prune_blocks": [3, 1], "keep_counts": [99]}

    model = build_hash_vit(arch, 5, [16], prune=False, config_key="model.teacher")

    assert not model.prunes


def test_build_rejects_unknown_key():
    with pytest.raises(ValueError, match=r"model\.teacher has unknown keys \['keep'\]"):
        build_hash_vit({**TINY, "keep": [1]}, 5, [16], prune=False, config_key="model.teacher")


def test_build_applies_arch_overrides():
    model = build_hash_vit(TINY, 5, [16, 64], prune=True, config_key="model.student")

    assert model.num_patches == 16
    assert len(model.backbone.blocks) == 4
    assert model.backbone.embed_dim == 48
    assert model.backbone.blocks[0].attn.num_heads == 3
    assert model.backbone.num_classes == 5
    assert sorted(model.hash_heads) == ["16", "64"]


def test_build_loads_local_checkpoint(tmp_path):
    source = timm.create_model(
        "vit_small_patch16_224", num_classes=1000, img_size=32, patch_size=8, embed_dim=48,
        depth=4, num_heads=3,
    )
    checkpoint = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), checkpoint)

    arch = {**TINY, "pretrained_file": str(checkpoint)}

    model = build_hash_vit(arch, 5, [16], prune=False, config_key="model.teacher")

    loaded = model.backbone.state_dict()
    assert torch.equal(loaded["blocks.2.attn.qkv.weight"], source.state_dict()["blocks.2.attn.qkv.weight"])
    assert torch.equal(loaded["pos_embed"], source.state_dict()["pos_embed"])
    assert loaded["head.weight"].shape == (5, 48)


def test_build_rejects_missing_checkpoint(tmp_path):
    missing = tmp_path / "absent.pth"

    with pytest.raises(FileNotFoundError, match=r"model\.teacher\.pretrained_file .*absent\.pth"):
        build_hash_vit(
            {**TINY, "pretrained_file": str(missing)}, 5, [16], prune=False,
            config_key="model.teacher",
        )


def test_build_rejects_non_vit():
    with pytest.raises(ValueError, match="not a timm VisionTransformer"):
        build_hash_vit({"name": "resnet18"}, 5, [16], prune=False, config_key="model.teacher")


def test_build_rejects_unknown_timm_name():
    with pytest.raises(ValueError, match=r"model\.student\.name 'vit_nonexistent' is not a timm model"):
        build_hash_vit({"name": "vit_nonexistent"}, 5, [16], prune=True, config_key="model.student")


def test_build_names_key_of_unpruned_student(tmp_path):
    # The vit variant builds the student without pruning; errors still name model.student.
    arch = {**TINY, "pretrained_file": str(tmp_path / "absent.pth")}

    with pytest.raises(FileNotFoundError, match=r"^model\.student\.pretrained_file"):
        build_hash_vit(arch, 5, [16], prune=False, config_key="model.student")


def test_build_rejects_unreadable_checkpoint(tmp_path):
    checkpoint = tmp_path / "corrupt.pth"
    checkpoint.write_text("not a checkpoint\n")
    arch = {**TINY, "pretrained_file": str(checkpoint)}

    with pytest.raises(ValueError, match=r"^model\.student\.pretrained_file '.*corrupt\.pth' could not be loaded"):
        build_hash_vit(arch, 5, [16], prune=True, config_key="model.student")
