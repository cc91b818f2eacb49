"""Foundations every floor may import: typed errors, settings, argument validators, numba flags.

Nothing here imports another first-party module.
"""
