"""Crime as counted: the offence vocabulary with harm weights, and incidents aggregated to cells × periods."""
