"""The predictor: features, training, backtests against baselines, and the model registry.

Built by the predictive-model issue on top of ``hotspots``; nothing here yet.
"""
