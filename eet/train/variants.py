"""Student variants: which of CTP, DKT and DRG each one switches on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """Parts of the EET method that a student variant uses."""

    name: str
    prune: bool  # content-based token pruning (CTP)
    dkt: bool  # discriminative knowledge transfer from the teacher's hash outputs
    drg: bool  # discriminative region guidance (teacher-selected patches masked)

    @property
    def needs_teacher(self) -> bool:
        return self.dkt or self.drg


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant("vit", prune=False, dkt=False, drg=False),
        Variant("ctp", prune=True, dkt=False, drg=False),
        Variant("ctp+dkt", prune=True, dkt=True, drg=False),
        Variant("ctp+drg", prune=True, dkt=False, drg=True),
        Variant("eet", prune=True, dkt=True, drg=True),
    )
}


def get_variant(name: str) -> Variant:
    """Return the variant called ``name``, or raise a ValueError listing the known names."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; choose from {sorted(VARIANTS)} in the config's variants") from None
