"""National scale: incidents as a partitioned GeoParquet data set; KDE, predictor features and training part by part on a Dask cluster."""
