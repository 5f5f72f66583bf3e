"""Helpers shared by the network tests: pandapower's own admittance matrix in case order."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import scipy.sparse as sp
from pandapower.auxiliary import pandapowerNet
from pandapower.pypower.makeYbus import makeYbus

from gridopt.network.case import CaseData
from gridopt.network.pandapower_io import ElementMap
from gridopt.validate.acpf import pf_bus_positions


def pandapower_ybus(net: pandapowerNet, case: CaseData, emap: ElementMap,
                    bus_case_index: np.ndarray) -> sp.csr_matrix:
    """pandapower's power-flow ``Ybus`` (from ``runpp``) permuted into the network's bus order."""
    work = copy.deepcopy(net)
    try:
        pp.runpp(work, calculate_voltage_angles=True, voltage_depend_loads=False, init="dc")
        ybus = work._ppc["internal"]["Ybus"]
    except pp.LoadflowNotConverged:
        # The admittance matrix does not depend on convergence: build it from runpp's data.
        ppci = work._ppc
        ybus, _, _ = makeYbus(ppci["baseMVA"], ppci["bus"], ppci["branch"])
    pos = pf_bus_positions(work, emap, case.branch_from, case.branch_to, case.n_bus)
    order = pos[bus_case_index]
    assert np.all(order >= 0)
    assert len(set(order.tolist())) == ybus.shape[0], "every pandapower bus is a network bus"
    return sp.csr_matrix(ybus)[order][:, order]
