"""Running many photos: inputs (collect and order them), executor (local process pool or Dask),
runner (a batch through the per-image flow, with progress and a record per input).

May import the per-image flow, `consent` and `processors`.
"""
