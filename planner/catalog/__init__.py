"""The catalogue: shipped tables (GPUs, models, precisions, efficiency factors, prices) read with
located errors, name resolution with did-you-mean, and the workload file resolved against them.

Every table is a CSV under `catalog/` (shipped in the wheel as `planner._catalog`). Each row
carries a `source` and an `as_of` date. Rows are validated on load; a malformed row is reported as
`catalog/<file>.csv:<line>: <column>: what is wrong`.
"""

from planner.catalog.gpus import UNSUPPORTED, Gpu
from planner.catalog.hf_config import model_from_hf_config
from planner.catalog.models import Model
from planner.catalog.precisions import Efficiency, Precision
from planner.catalog.store import Catalog, load_catalog

__all__ = ["UNSUPPORTED", "Catalog", "Efficiency", "Gpu", "Model", "Precision", "load_catalog", "model_from_hf_config"]
