"""Kernel density: kernels by name, the numba kernels, bandwidth choice and the ``hotspot_kde`` verb."""
