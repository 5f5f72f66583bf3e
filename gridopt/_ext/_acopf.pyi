import numpy as np
from numpy.typing import NDArray

def lower_pairs() -> list[tuple[int, int]]: ...

class ACKernel:
    n_bus: int
    n_gen: int
    n_end: int
    n_lim: int
    n_ang: int
    n_var: int
    n_con: int
    nnz_jac: int
    nnz_hess: int
    def __init__(self, n_bus: int, n_gen: int, *arrays: object) -> None: ...
    def flows(
        self, x: NDArray[np.float64], p_out: NDArray[np.float64], q_out: NDArray[np.float64]
    ) -> None: ...
    def constraints(self, x: NDArray[np.float64], out: NDArray[np.float64]) -> None: ...
    def jacobian(self, x: NDArray[np.float64], vals: NDArray[np.float64]) -> None: ...
    def hessian(
        self,
        x: NDArray[np.float64],
        lam: NDArray[np.float64],
        obj_factor: float,
        obj_vm_diag: NDArray[np.float64],
        obj_pg_diag: NDArray[np.float64],
        vals: NDArray[np.float64],
    ) -> None: ...
