"""The predictor at national scale: features per part of the incident data set, and sampled, backtested training."""
