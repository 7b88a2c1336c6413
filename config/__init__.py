"""The sample organisation and .env template, shipped with the package for `demo`."""
