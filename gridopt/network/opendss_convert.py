"""Balanced (positive-sequence) pandapower net of a solved OpenDSS circuit.

The conversion, element by element (what it approximates is listed in :data:`APPROXIMATIONS`
and carried in the net's ``opendss`` entry):

* **buses**: one pandapower bus per OpenDSS bus, ``vn_kv`` the line-to-line voltage base
  (``sqrt(3)`` times OpenDSS's line-to-neutral ``kVBase``; a bus without base takes its
  neighbour's), coordinates from ``Buscoords``.
* **lines**: series impedance and shunt admittance from the line's ``YPrim`` (linecode or
  geometry, length and units applied by OpenDSS), reduced to one balanced phase: the mean
  over the line's ``n`` phases of the voltage drop per ampere under positive-sequence currents
  (``Zs - Zm`` for a transposed three-phase line). A one- or two-phase line carries the summed
  power of its phases on three phases of the balanced net, so its impedance is scaled by
  ``3/n`` and its shunt admittance by ``n/3``: drop and losses equal those of ``n`` equally
  loaded phases. Ratings: ``NormAmps * n/3``.
* **switches**: ``switch=yes`` lines become bus-bus switches; a SwtControl or an open terminal
  opens them; a switch line to a dangling bus ``<bus>_open`` (the IEEE 123-node convention
  for a normally open tie) becomes an open tie switch to ``<bus>``. Lines with an open
  terminal or a SwtControl get a line switch.
* **transformers**: single-phase units on the same buses (a regulator bank) become one
  three-phase transformer of their summed kVA with the same per-cent impedance (equivalent to
  the ``3/n`` scaling of lines), taps the bank's mean solved tap.
* **loads**: one pandapower load per OpenDSS load (phases summed at the bus), models 1
  (constant PQ), 2 (constant Z) and 5 (constant I); the others as constant PQ.
* **capacitors**: shunts of the kvar of the steps OpenDSS left closed.
* **PVSystem / Storage / Generator**: controllable ``sgen`` (curtailable PV) / controllable
  ``storage`` / fixed ``sgen`` at their solved output.
* **Vsource**: ``ext_grid`` at its bus with its pu and angle (its Thevenin impedance dropped).
"""

from __future__ import annotations

import copy
import inspect
import math
from collections import defaultdict
from typing import Any

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from gridopt.errors import InputError
from gridopt.network.opendss_read import (
    ComplexArray,
    DssBus,
    DssCircuit,
    DssLine,
    DssTransformer,
)

SQRT3 = math.sqrt(3.0)
#: Name suffix of a dangling bus that stands for the far side of a normally open tie.
OPEN_SUFFIX = "_open"
#: Smallest transformer short-circuit impedance kept (per cent of its rating): OpenDSS
#: regulators and stiff substation units come with 0.001-0.01 %, with which pandapower's
#: Newton-Raphson cannot reach its 1e-8 MVA tolerance once a tap is off neutral.
VK_MIN_PERCENT = 0.1

APPROXIMATIONS = (
    "balanced positive-sequence equivalent: phase loads, capacitors and generation summed per "
    "bus; one- and two-phase lines and single-phase transformer banks scaled so that n equally "
    "loaded phases keep their voltage drop and losses (impedance x 3/n)",
    "mutual coupling kept only through Zs - Zm (the positive-sequence impedance); unbalance, "
    "neutral and zero-sequence currents are not modelled",
    "transformer phase shifts (delta-wye) are dropped: magnitudes of a radial feeder are "
    "unaffected, angles are not comparable",
    "regulator taps fixed at OpenDSS's solved taps (mean over the units of a bank)",
    "transformer short-circuit impedance at least 0.1 % of its rating (regulators with "
    "0.001-0.01 % are raised to it)",
    "bus voltage limits: the circuit's normal range (Set NormVminpu/NormVmaxpu, OpenDSS "
    "defaults 0.95..1.05 pu)",
    "Vsource Thevenin impedance dropped (ext_grid at the source bus, angle 0: with the phase "
    "shifts dropped, angles are relative to the source)",
    "load models other than 1/2/5 as constant PQ; OpenDSS's switch to constant Z below "
    "Vminpu is not modelled",
)


def _rotations(phases: tuple[int, ...]) -> ComplexArray:
    return np.exp(-2j * math.pi / 3.0 * (np.asarray(phases, dtype=float) - 1.0))


def positive_sequence(matrix: ComplexArray, phases: tuple[int, ...]) -> complex:
    """Mean over the phases of ``(M @ rot)_k / rot_k`` for balanced positive-sequence phasors.

    For a symmetric three-phase matrix this is ``Zs - Zm``; for one phase it is the self term;
    for two phases ``Zs - Zm/2``.

    >>> z = np.array([[2.0, 0.5, 0.5], [0.5, 2.0, 0.5], [0.5, 0.5, 2.0]], dtype=complex)
    >>> round(positive_sequence(z, (1, 2, 3)).real, 12)
    1.5
    """
    rot = _rotations(phases)
    return complex(np.mean((matrix @ rot) / rot))


def _line_equivalent(line: DssLine) -> tuple[complex, complex]:
    """Balanced series impedance (ohm) and total shunt admittance (S) of a line."""
    n = len(line.phases)
    z = positive_sequence(line.z_ohm, line.phases) * 3.0 / n
    y = positive_sequence(line.y_shunt_s, line.phases) * n / 3.0
    return z, y


class _Builder:
    """State of one conversion (the net, bus positions, notes)."""

    def __init__(self, circuit: DssCircuit) -> None:
        self.circuit = circuit
        self.net = pp.create_empty_network(name=circuit.name, f_hz=circuit.base_frequency_hz)
        self.bus: dict[str, int] = {}
        self.notes: list[str] = []
        self.unsupported: list[str] = list(circuit.unsupported)
        self.ties: dict[str, str] = self._ties()
        self.tie_lines: dict[str, dict[str, str]] = {}

    # -- buses -------------------------------------------------------------------------
    def _ties(self) -> dict[str, str]:
        """``{dangling bus: real bus}`` for switch lines to ``<bus>_open``."""
        names = {b.name for b in self.circuit.buses}
        degree: dict[str, int] = defaultdict(int)
        for line in self.circuit.lines:
            degree[line.bus1] += 1
            degree[line.bus2] += 1
        for t in self.circuit.transformers:
            for w in t.windings:
                degree[w.bus] += 1
        for bus in (*(x.bus for x in self.circuit.loads), *(x.bus for x in self.circuit.shunts),
                    *(x.bus for x in self.circuit.generation)):
            degree[bus] += 1
        out = {}
        for line in self.circuit.lines:
            for end in (line.bus1, line.bus2):
                real = end[: -len(OPEN_SUFFIX)]
                if line.is_switch and end.endswith(OPEN_SUFFIX) and real in names \
                        and degree[end] == 1:
                    out[end] = real
        return out

    def _bases(self) -> dict[str, float]:
        """Line-to-line kV base of every bus (buses without base take a neighbour's)."""
        base = {b.name: b.kv_base_ln * SQRT3 for b in self.circuit.buses if b.kv_base_ln > 0}
        missing = [b.name for b in self.circuit.buses if b.name not in base]
        adjacency: dict[str, list[str]] = defaultdict(list)
        for line in self.circuit.lines:
            adjacency[line.bus1].append(line.bus2)
            adjacency[line.bus2].append(line.bus1)
        for _ in range(len(missing)):
            progress = False
            for name in missing:
                if name not in base:
                    known = [base[o] for o in adjacency[name] if o in base]
                    if known:
                        base[name] = known[0]
                        progress = True
            if not progress:
                break
        fallback = self.circuit.sources[0].base_kv if self.circuit.sources else 1.0
        unresolved = [n for n in missing if n not in base]
        if missing:
            self.notes.append(
                f"{len(missing)} bus(es) without an OpenDSS voltage base took a neighbour's"
                + (f" ({len(unresolved)} the source's: {', '.join(unresolved[:10])})"
                   if unresolved else "")
                + "; set Voltagebases and CalcVoltageBases in the model to remove this")
        for name in unresolved:
            base[name] = fallback
        return base

    def buses(self) -> None:
        base = self._bases()
        for b in self.circuit.buses:
            if b.name in self.ties:
                continue
            geo = (b.x, b.y) if math.isfinite(b.x) and math.isfinite(b.y) else None
            self.bus[b.name] = int(pp.create_bus(
                self.net, vn_kv=base[b.name], name=b.name, geodata=geo,
                min_vm_pu=self.circuit.vmin_pu, max_vm_pu=self.circuit.vmax_pu))

    # -- branches ----------------------------------------------------------------------
    def lines(self) -> None:
        controlled = {s.switched_obj.split(".", 1)[-1]: s for s in self.circuit.switch_controls}
        banks = {frozenset(w.bus for w in t.windings) for t in self.circuit.transformers}
        for line in self.circuit.lines:
            name = f"Line.{line.name}"
            if frozenset((line.bus1, line.bus2)) in banks:
                self.notes.append(f"{name}: in parallel with a transformer bank between "
                                  f"{line.bus1} and {line.bus2} (a jumper of an open-delta "
                                  "regulator): left out of the balanced net")
                continue
            control = controlled.get(line.name)
            opened = any(line.open_terminals) or (control is not None and control.is_open)
            if line.is_switch:
                self._switch_line(line, name, opened)
                continue
            z, y = _line_equivalent(line)
            if not np.isfinite(z):
                self.unsupported.append(f"{name} (singular series admittance)")
                continue
            n = len(line.phases)
            rating_ka = line.norm_amps * n / 3.0 / 1e3 if line.norm_amps > 0 else 99999.0
            f_hz = self.circuit.base_frequency_hz
            idx = pp.create_line_from_parameters(
                self.net, self.bus[line.bus1], self.bus[line.bus2], length_km=1.0,
                r_ohm_per_km=max(z.real, 1e-9), x_ohm_per_km=z.imag,
                c_nf_per_km=max(y.imag, 0.0) / (2 * math.pi * f_hz) * 1e9,
                g_us_per_km=max(y.real, 0.0) * 1e6, max_i_ka=rating_ka, name=name,
                in_service=line.enabled,
            )
            if opened or control is not None:
                pp.create_switch(self.net, self.bus[line.bus1], int(idx), et="l",
                                 closed=not opened, type="LBS", name=name)

    def _switch_line(self, line: DssLine, name: str, opened: bool) -> None:
        a, b = line.bus1, line.bus2
        tie = a in self.ties or b in self.ties
        a, b = self.ties.get(a, a), self.ties.get(b, b)
        if tie:
            opened = True
            dangling = line.bus2 if line.bus2 in self.ties else line.bus1
            self.tie_lines[name] = {"dangling": dangling, "bus": self.ties[dangling]}
            self.notes.append(f"{name}: switch to the dangling bus "
                              f"'{line.bus2 if line.bus2 != b else line.bus1}' taken as the "
                              f"normally open tie {a}-{b}")
        pp.create_switch(self.net, self.bus[a], self.bus[b], et="b",
                         closed=line.enabled and not opened, type="LBS", name=name)

    def _vn(self, t: DssTransformer, w: int, bus_kv: float) -> float:
        """Line-to-line rated kV of winding ``w`` (single-phase units: LN or LL by base)."""
        kv = t.windings[w].kv
        if len(t.phases) >= 3 or t.windings[w].is_delta:
            return kv
        return kv * SQRT3 if abs(kv * SQRT3 - bus_kv) < abs(kv - bus_kv) else kv

    def transformers(self) -> None:
        banks: dict[tuple[str, ...], list[DssTransformer]] = defaultdict(list)
        for t in self.circuit.transformers:
            if len(t.windings) != 2:
                self.unsupported.append(f"Transformer.{t.name} ({len(t.windings)} windings)")
                continue
            banks[tuple(w.bus for w in t.windings)].append(t)
        for units in banks.values():
            self._bank(units)

    def _bank(self, units: list[DssTransformer]) -> None:
        t = units[0]
        buses = [self.bus[w.bus] for w in t.windings]
        bus_kv = [float(self.net.bus.at[b, "vn_kv"]) for b in buses]
        vn = [self._vn(t, w, bus_kv[w]) for w in range(2)]
        hv = 0 if vn[0] >= vn[1] else 1
        lv = 1 - hv
        taps = [float(np.mean([u.windings[w].tap_pu for u in units])) for w in range(2)]
        reg = t.regulated_winding - 1 if t.regulated_winding else -1
        kw: dict[str, Any] = {}
        if reg in (0, 1):
            step = t.tap_step_pu or 0.00625
            kw = dict(tap_side="hv" if reg == hv else "lv", tap_neutral=0.0,
                      tap_step_percent=100 * step, tap_pos=(taps[reg] - 1.0) / step,
                      tap_min=(t.min_tap_pu - 1.0) / step, tap_max=(t.max_tap_pu - 1.0) / step,
                      tap_changer_type="Ratio")
        ratio = [taps[w] if w != reg else 1.0 for w in range(2)]
        kva = sum(u.windings[0].kva for u in units)
        vkr = t.windings[0].pct_r + t.windings[1].pct_r
        name = "|".join(f"Transformer.{u.name}" for u in units)
        pp.create_transformer_from_parameters(
            self.net, buses[hv], buses[lv], sn_mva=kva / 1e3,
            vn_hv_kv=vn[hv] * ratio[hv], vn_lv_kv=vn[lv] * ratio[lv],
            vkr_percent=vkr, vk_percent=max(math.hypot(t.xhl_pct, vkr), VK_MIN_PERCENT, vkr),
            pfe_kw=t.noload_loss_pct / 100.0 * kva, i0_percent=t.imag_pct, shift_degree=0.0,
            name=name, in_service=all(u.enabled for u in units), **kw,
        )

    # -- injections --------------------------------------------------------------------
    def _ll_kv(self, kv: float, phases: tuple[int, ...], is_delta: bool) -> float:
        return kv if len(phases) >= 3 or is_delta else kv * SQRT3

    def loads(self) -> None:
        odd: dict[int, list[str]] = defaultdict(list)
        for load in self.circuit.loads:
            bus = self.bus[self.ties.get(load.bus, load.bus)]
            r = float(self.net.bus.at[bus, "vn_kv"]) / self._ll_kv(load.kv, load.phases,
                                                                     load.is_delta)
            z = i = 0.0
            scale = 1.0
            if load.model == 2:
                z, scale = 100.0, r * r
            elif load.model == 5:
                i, scale = 100.0, r
            elif load.model != 1:
                odd[load.model].append(load.name)
            pp.create_load(
                self.net, bus, p_mw=load.kw * scale / 1e3, q_mvar=load.kvar * scale / 1e3,
                name=f"Load.{load.name}", in_service=load.enabled, **_zip_shares(z, i),
            )
        for model, names in sorted(odd.items()):
            self.notes.append(f"load model {model} taken as constant PQ: "
                              f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")

    def shunts(self) -> None:
        for cap in self.circuit.shunts:
            bus = self.bus[self.ties.get(cap.bus, cap.bus)]
            pp.create_shunt(self.net, bus, q_mvar=-cap.kvar_on / 1e3, p_mw=0.0,
                            vn_kv=self._ll_kv(cap.kv, cap.phases, False),
                            name=f"Capacitor.{cap.name}", in_service=cap.enabled)

    def generation(self) -> None:
        for g in self.circuit.generation:
            bus = self.bus[self.ties.get(g.bus, g.bus)]
            label = {"pvsystem": "PVSystem", "storage": "Storage", "generator": "Generator"}
            name = f"{label[g.kind]}.{g.name}"
            sn = g.kva_rated / 1e3 if g.kva_rated > 0 else math.nan
            if g.kind == "storage":
                cap = g.kwh_rated / 1e3
                pp.create_storage(
                    self.net, bus, p_mw=-g.kw / 1e3, q_mvar=-g.kvar / 1e3, max_e_mwh=cap,
                    min_e_mwh=g.pct_reserve / 100.0 * cap, soc_percent=g.pct_stored,
                    max_p_mw=g.kw_rated / 1e3, min_p_mw=-g.kw_rated / 1e3, sn_mva=sn,
                    controllable=True, name=name, in_service=g.enabled,
                )
            else:
                pv = g.kind == "pvsystem"
                pp.create_sgen(
                    self.net, bus, p_mw=g.kw / 1e3, q_mvar=g.kvar / 1e3, sn_mva=sn,
                    max_p_mw=g.kw_rated / 1e3 if pv else g.kw / 1e3, controllable=pv,
                    type="PV" if pv else "gen", name=name, in_service=g.enabled,
                )

    def sources(self) -> None:
        if not self.circuit.sources:
            raise InputError(f"{self.circuit.path}: the circuit has no Vsource; gridopt needs "
                             "the feeder's source (New Circuit.<name> bus1=...)")
        for s in self.circuit.sources:
            pp.create_ext_grid(self.net, self.bus[s.bus], vm_pu=s.pu, va_degree=0.0,
                               name=f"Vsource.{s.name}")
        if len(self.circuit.sources) > 1:
            self.notes.append(f"{len(self.circuit.sources)} Vsources: each an ext_grid")


def bus_voltage_pu(bus: DssBus) -> float:
    """OpenDSS's balanced-equivalent voltage of a bus (pu of its base, NaN without base).

    A bus with nodes 1, 2 and 3: the positive-sequence magnitude ``|Va + a Vb + a^2 Vc|/3``;
    a one- or two-phase bus: the mean magnitude of its phases.
    """
    if bus.kv_base_ln <= 0:
        return math.nan
    phase = {n: v for n, v in zip(bus.nodes, bus.voltages_v, strict=False) if n in (1, 2, 3)}
    if not phase:
        return math.nan
    base = bus.kv_base_ln * 1e3
    if len(phase) == 3:
        a = np.exp(2j * math.pi / 3.0)
        return float(abs(phase[1] + a * phase[2] + a * a * phase[3]) / 3.0 / base)
    return float(np.mean(np.abs(list(phase.values()))) / base)


def no_load_voltages(net: pandapowerNet) -> dict[int, float]:
    """Voltage magnitude of every bus at no load: the source's, times the tap ratios on its path.

    A start for pandapower's Newton-Raphson (``init="results"``) on feeders whose regulators
    make the flat start fall into the zero-voltage solution.
    """
    ratio: dict[tuple[int, int], float] = {}
    for _, r in net.trafo.iterrows():
        k = 1.0
        if isinstance(r.tap_side, str) and math.isfinite(float(r.tap_pos)):
            step = 1.0 + (float(r.tap_pos) - float(r.tap_neutral)) * float(r.tap_step_percent) / 100
            k = step if r.tap_side == "lv" else 1.0 / step
        k *= (r.vn_lv_kv / net.bus.vn_kv[r.lv_bus]) / (r.vn_hv_kv / net.bus.vn_kv[r.hv_bus])
        ratio[(int(r.hv_bus), int(r.lv_bus))] = k
        ratio[(int(r.lv_bus), int(r.hv_bus))] = 1.0 / k
    graph = nx.Graph(top.create_nxgraph(net, respect_switches=True))
    vm: dict[int, float] = {}
    for _, eg in net.ext_grid.iterrows():
        root = int(eg.bus)
        if root in vm or root not in graph:
            continue
        vm[root] = float(eg.vm_pu)
        for a, b in nx.bfs_edges(graph, root):
            vm.setdefault(b, vm[a] * ratio.get((a, b), 1.0))
    return vm


def run_powerflow(net: pandapowerNet) -> str:
    """``pandapower.runpp`` from the flat start, else from :func:`no_load_voltages`.

    Returns the start that converged (``"flat"`` or ``"no-load profile"``); raises
    pandapower's error when neither does.
    """
    try:
        pp.runpp(net)
        return "flat"
    except Exception:  # LoadflowNotConverged and numerical failures alike
        vm = no_load_voltages(net)
        net.res_bus = pd.DataFrame(
            {"vm_pu": [vm.get(int(i), 1.0) for i in net.bus.index], "va_degree": 0.0,
             "p_mw": 0.0, "q_mvar": 0.0}, index=net.bus.index)
        pp.runpp(net, init="results", max_iteration=30)
        return "no-load profile"


def _check_solvable(net: pandapowerNet, notes: list[str]) -> None:
    """Note when pandapower's flat start does not converge on the converted net."""
    work = copy.deepcopy(net)
    try:
        start = run_powerflow(work)
    except Exception:
        notes.append("pandapower's power flow of the converted net does not converge")
        return
    if start != "flat":
        notes.append(
            "pandapower's Newton-Raphson does not converge from the flat start (regulator taps "
            "behind long lines: it falls into the zero-voltage solution); it converges from the "
            "no-load voltage profile (init='results'), which gridopt powerflow uses; other "
            "commands' AC checks start flat")


def pandapower_from_circuit(circuit: DssCircuit) -> pandapowerNet:
    """Build the balanced pandapower net of ``circuit`` (see the module docstring).

    The net's ``opendss`` entry holds the source file, engine versions, the approximations,
    notes, unsupported elements (each named) and OpenDSS's own solution (totals and
    per-bus balanced-equivalent voltages, :func:`bus_voltage_pu`) for the comparison.
    """
    b = _Builder(circuit)
    b.buses()
    b.lines()
    b.transformers()
    b.loads()
    b.shunts()
    b.generation()
    b.sources()
    _check_solvable(b.net, b.notes)
    sol = circuit.solution
    b.net["opendss"] = {
        "file": str(circuit.path),
        "circuit": circuit.name,
        "versions": dict(circuit.versions),
        "approximations": list(APPROXIMATIONS),
        "notes": b.notes,
        "unsupported": b.unsupported,
        "ties": b.tie_lines,
        "solution": {
            "converged": sol.converged, "source_kw": sol.source_kw,
            "source_kvar": sol.source_kvar, "losses_kw": sol.losses_kw,
            "losses_kvar": sol.losses_kvar,
            "bus_vm_pu": {bus.name: bus_voltage_pu(bus) for bus in circuit.buses
                          if bus.name not in b.ties},
        },
    }
    return b.net


def _zip_shares(z_percent: float, i_percent: float) -> dict[str, float]:
    """The constant-impedance and constant-current shares of a load, as ``create_load`` of the
    installed pandapower names them: one share for P and Q in older releases (3.1)
    (``const_z_percent``), separate P and Q shares in newer ones (``const_z_p_percent`` ...)."""
    if "const_z_p_percent" in _LOAD_PARAMETERS:
        return {"const_z_p_percent": z_percent, "const_z_q_percent": z_percent,
                "const_i_p_percent": i_percent, "const_i_q_percent": i_percent}
    return {"const_z_percent": z_percent, "const_i_percent": i_percent}


_LOAD_PARAMETERS = frozenset(inspect.signature(pp.create_load).parameters)
