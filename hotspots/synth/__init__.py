"""A seeded synthetic city with known ground truth, on the real West Midlands geography."""

from hotspots.synth.city import PatrolEffect, SyntheticCity, SynthParams, apply_patrol, generate
from hotspots.synth.writers import synthetic_npus, write_city

__all__ = ["PatrolEffect", "SynthParams", "SyntheticCity", "apply_patrol", "generate", "synthetic_npus", "write_city"]
