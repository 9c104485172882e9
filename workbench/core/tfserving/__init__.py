"""TF Serving bundles, one job per module.

- `layout`: file names of a base folder, version folders, BundleError, atomic writes.
- `warmup`: TFRecord framing, PredictionLog records and the warmup requests built from sample rows.
- `model_config`: parse and merge the text-format models.config.
- `serving_doc`: the SERVING.md text (docker and curl commands).
- `bundle`: install a SavedModel as BASE/NAME/VERSION.
- `lint`: lint an existing base folder for the mistakes TF Serving users hit.
"""
