"""A seeded synthetic city with known ground truth, on the real West Midlands geography."""

from hotspots.synth.city import PatrolEffect, SyntheticCity, SynthParams, generate
from hotspots.synth.writers import synthetic_npus, write_city

__all__ = ["PatrolEffect", "SynthParams", "SyntheticCity", "generate", "synthetic_npus", "write_city"]
