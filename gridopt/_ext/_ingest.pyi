"""Type stub of the compiled ingestion kernels (source: ext/_ingest.pyx)."""

import numpy as np
from numpy.typing import NDArray

def place_readings(
    meter: NDArray[np.int32],
    tidx: NDArray[np.int64],
    cons: NDArray[np.float64],
    prod: NDArray[np.float64],
    status: NDArray[np.int8],
    cons_grid: NDArray[np.float64],
    prod_grid: NDArray[np.float64],
) -> NDArray[np.int64]: ...
def positive_quantile(
    grid: NDArray[np.float64], q: float, min_count: int
) -> NDArray[np.float64]: ...
def mark_outliers(
    meter: NDArray[np.int32],
    tidx: NDArray[np.int64],
    cons: NDArray[np.float64],
    prod: NDArray[np.float64],
    status: NDArray[np.int8],
    cons_limit: NDArray[np.float64],
    prod_limit: NDArray[np.float64],
    cons_grid: NDArray[np.float64],
    prod_grid: NDArray[np.float64],
) -> None: ...
def missing_runs(
    quality: NDArray[np.int8], code: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]: ...
def fill_linear(
    grid: NDArray[np.float64], quality: NDArray[np.int8], max_gap: int
) -> NDArray[np.uint8]: ...
def diff_registers(
    register: NDArray[np.float64], modulus: float, rollover_fraction: float
) -> tuple[NDArray[np.float64], NDArray[np.int8], NDArray[np.int8]]: ...
def meter_intervals(
    meter: NDArray[np.int32], rank: NDArray[np.int32], sorted_ns: NDArray[np.int64],
    n_meter: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
           NDArray[np.int64]]: ...
def aggregate_blocks(
    fine: NDArray[np.float64], offset: int, ratio: int, n_coarse: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]: ...
def parse_decimals(
    data: NDArray[np.uint8], offsets: NDArray[np.int64], null: NDArray[np.uint8]
) -> tuple[NDArray[np.float64], NDArray[np.uint8]]: ...
