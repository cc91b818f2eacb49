"""National scale: incidents as a partitioned GeoParquet data set, and KDE part by part on a Dask cluster."""
