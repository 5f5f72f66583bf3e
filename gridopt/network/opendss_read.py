"""Compile and solve an OpenDSS model in-process and read it into plain records.

The engine is DSS C-API (through OpenDSSDirect.py), the alternative OpenDSS implementation
from DSS-Extensions. :func:`read_circuit` compiles a ``.dss`` file, solves it as a snapshot
(with the model's own controls: regulator taps and capacitor states are those OpenDSS settles
on) and reads every element gridopt converts into a :class:`DssCircuit`: pure data (NumPy
arrays, strings), so the conversion in :mod:`gridopt.network.opendss_convert` never touches
the engine. Line impedances come from each line's primitive admittance matrix (``YPrim``), so
linecodes, geometries, lengths and units are all applied by OpenDSS itself.

OpenDSS's own (unbalanced) solution is kept in :class:`DssSolution`: source power, losses and,
per bus, the phase voltages, for the comparison with the balanced conversion.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gridopt.errors import InputError

ComplexArray = NDArray[np.complex128]

#: Element classes converted (or, for controls and meters, whose effect the snapshot keeps).
HANDLED_CLASSES = frozenset({
    "vsource", "line", "transformer", "load", "capacitor", "pvsystem", "storage", "generator",
    "regcontrol", "capcontrol", "swtcontrol", "energymeter", "monitor", "linecode",
    "linegeometry", "wiredata", "cndata", "tsdata", "linespacing", "loadshape", "xycurve",
    "tshape", "priceshape", "growthshape", "spectrum", "xfmrcode", "invcontrol",
    "storagecontroller", "fuse", "recloser", "relay", "tcc_curve",
})


@dataclass(frozen=True)
class DssBus:
    """One OpenDSS bus: base voltage (line-to-neutral kV), coordinates, solved node voltages."""

    name: str
    kv_base_ln: float
    x: float
    y: float
    nodes: tuple[int, ...]
    voltages_v: ComplexArray  # one complex line-to-ground voltage per node, in volts


@dataclass(frozen=True)
class DssLine:
    """A line: terminal buses (no node suffix), phases, series impedance and shunt admittance.

    ``z_ohm`` is the ``n x n`` series impedance matrix of the phase conductors (neutrals
    Kron-reduced by OpenDSS), ``y_shunt_s`` the total shunt admittance (both ends).
    """

    name: str
    bus1: str
    bus2: str
    phases: tuple[int, ...]
    z_ohm: ComplexArray
    y_shunt_s: ComplexArray
    norm_amps: float
    is_switch: bool
    enabled: bool
    open_terminals: tuple[bool, bool]


@dataclass(frozen=True)
class DssWinding:
    """One transformer winding: bus, rated kV (line-to-line for 3 phases), kVA, %R, tap."""

    bus: str
    kv: float
    kva: float
    pct_r: float
    is_delta: bool
    tap_pu: float


@dataclass(frozen=True)
class DssTransformer:
    """A transformer (or one single-phase regulator unit) with its solved taps."""

    name: str
    phases: tuple[int, ...]
    windings: tuple[DssWinding, ...]
    xhl_pct: float
    noload_loss_pct: float
    imag_pct: float
    tap_step_pu: float
    min_tap_pu: float
    max_tap_pu: float
    regulated_winding: int  # 0 when no RegControl acts on it, else the 1-based winding
    enabled: bool


@dataclass(frozen=True)
class DssLoad:
    """A load as given (kW/kvar nominal, OpenDSS model number, connection)."""

    name: str
    bus: str
    phases: tuple[int, ...]
    kw: float
    kvar: float
    model: int
    kv: float
    is_delta: bool
    enabled: bool


@dataclass(frozen=True)
class DssShunt:
    """A capacitor: total rated kvar of the steps in service, rated kV."""

    name: str
    bus: str
    phases: tuple[int, ...]
    kvar_on: float
    kvar_rated: float
    kv: float
    enabled: bool


@dataclass(frozen=True)
class DssGeneration:
    """A PVSystem, Storage or Generator with its rating and solved output (kW > 0 injects)."""

    name: str
    kind: str  # "pvsystem" | "storage" | "generator"
    bus: str
    phases: tuple[int, ...]
    kw: float
    kvar: float
    kw_rated: float
    kva_rated: float
    kwh_rated: float = 0.0
    pct_stored: float = 0.0
    pct_reserve: float = 0.0
    enabled: bool = True


@dataclass(frozen=True)
class DssSwitchControl:
    """A SwtControl: the line it operates, and whether it leaves it open."""

    name: str
    switched_obj: str
    is_open: bool
    normally_open: bool


@dataclass(frozen=True)
class DssSource:
    """The Vsource: bus, voltage set point (pu of its base) and angle."""

    name: str
    bus: str
    pu: float
    angle_deg: float
    base_kv: float


@dataclass(frozen=True)
class DssSolution:
    """OpenDSS's own unbalanced snapshot solution."""

    converged: bool
    iterations: int
    source_kw: float
    source_kvar: float
    losses_kw: float
    losses_kvar: float


@dataclass(frozen=True)
class DssCircuit:
    """Everything read from one solved OpenDSS circuit."""

    name: str
    path: Path
    base_frequency_hz: float
    buses: tuple[DssBus, ...]
    lines: tuple[DssLine, ...]
    transformers: tuple[DssTransformer, ...]
    loads: tuple[DssLoad, ...]
    shunts: tuple[DssShunt, ...]
    generation: tuple[DssGeneration, ...]
    switch_controls: tuple[DssSwitchControl, ...]
    sources: tuple[DssSource, ...]
    solution: DssSolution
    vmin_pu: float = 0.95
    vmax_pu: float = 1.05
    unsupported: tuple[str, ...] = field(default=())
    versions: dict[str, str] = field(default_factory=dict)


def _bus_and_nodes(spec: str) -> tuple[str, tuple[int, ...]]:
    """``'632.1.2'`` -> ``('632', (1, 2))`` (names lower-case, as OpenDSS keeps them)."""
    parts = spec.split(".")
    nodes = tuple(int(p) for p in parts[1:] if p.isdigit())
    return parts[0].lower(), nodes


def _phases_of(spec: str, n_phases: int) -> tuple[int, ...]:
    _, nodes = _bus_and_nodes(spec)
    phases = tuple(n for n in nodes if n in (1, 2, 3))[:n_phases]
    return phases if phases else tuple(range(1, n_phases + 1))


def _complex(values: list[float]) -> ComplexArray:
    arr = np.asarray(values, dtype=float)
    return (arr[0::2] + 1j * arr[1::2]).astype(np.complex128)


def dss_engine():  # type: ignore[no-untyped-def]
    """The OpenDSSDirect.py module (its one in-process DSS C-API engine)."""
    try:
        import opendssdirect as dss
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError(
            "reading OpenDSS models needs the package 'OpenDSSDirect.py'; install it with "
            "`pip install OpenDSSDirect.py`"
        ) from None
    return dss


def _prop(dss, element: str, name: str) -> str:  # type: ignore[no-untyped-def]
    dss.Text.Command(f"? {element}.{name}")
    return str(dss.Text.Result())


def _fprop(dss, element: str, name: str, default: float = 0.0) -> float:  # type: ignore[no-untyped-def]
    try:
        return float(_prop(dss, element, name))
    except (ValueError, Exception):  # an unknown property is an engine error
        return default


def _iterate(api):  # type: ignore[no-untyped-def]
    """Yield once per element of an OpenDSSDirect class interface (the element active)."""
    ok = api.First()
    while ok:
        yield api.Name()
        ok = api.Next()


_DSS_ERROR = re.compile(r"\[file:\s*\"?(?P<file>[^\",\]]*)\"?,\s*line:\s*(?P<line>\d+)\]")


def _input_error(exc: Exception, path: Path) -> InputError:
    text = " ".join(str(exc).split())
    where = _DSS_ERROR.search(text)
    location = f"{where['file']}, line {where['line']}" if where else str(path)
    message = _DSS_ERROR.sub("", text).strip()
    fix = "fix the command at that line"
    if "not found" in message.lower():
        fix = ("the file it names does not exist relative to the file that redirects to it; "
               "correct the path or copy the file next to it")
    return InputError(f"{location}: OpenDSS could not compile {path.name}: {message}; {fix}")


def compile_circuit(path: Path) -> None:
    """Clear the engine, compile ``path`` and solve it as a snapshot with its controls.

    Raises
    ------
    InputError
        Missing file, a redirect to a missing file or any command OpenDSS rejects (with the
        file and line OpenDSS reports), or a model without a circuit.
    """
    dss = dss_engine()
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path of the OpenDSS master file")
    dss.Basic.ClearAll()
    cwd = os.getcwd()  # OpenDSS's compile changes the working directory: restore it
    try:
        dss.Text.Command(f'compile "{path.resolve()}"')
    except Exception as exc:  # DSSException carries the file and line
        raise _input_error(exc, path) from None
    finally:
        os.chdir(cwd)
    if dss.Circuit.NumBuses() == 0:
        raise InputError(f"{path}: no circuit with buses after compiling it; the master file "
                         "must create one with `New Circuit.<name>`")
    try:
        if dss.Solution.Mode() != 0:
            dss.Text.Command("set mode=snapshot")
        dss.Solution.Solve()
    except Exception as exc:
        raise _input_error(exc, path) from None


def _read_buses(dss) -> tuple[DssBus, ...]:  # type: ignore[no-untyped-def]
    out = []
    for name in dss.Circuit.AllBusNames():
        dss.Circuit.SetActiveBus(name)
        coords = bool(dss.Bus.Coorddefined())
        out.append(DssBus(
            name=name.lower(), kv_base_ln=float(dss.Bus.kVBase()),
            x=float(dss.Bus.X()) if coords else math.nan,
            y=float(dss.Bus.Y()) if coords else math.nan,
            nodes=tuple(int(n) for n in dss.Bus.Nodes()),
            voltages_v=_complex(dss.Bus.Voltages()),
        ))
    return tuple(out)


def _read_lines(dss) -> tuple[DssLine, ...]:  # type: ignore[no-untyped-def]
    out = []
    for name in _iterate(dss.Lines):
        el = dss.CktElement
        n = int(el.NumPhases())
        ncond = int(el.NumConductors())
        y = _complex(el.YPrim()).reshape(2 * ncond, 2 * ncond)
        idx = list(range(n))
        y11 = y[np.ix_(idx, idx)]
        y12 = y[np.ix_(idx, [ncond + i for i in idx])]
        y_series = -y12
        try:
            z = np.asarray(np.linalg.inv(y_series), dtype=np.complex128)
        except np.linalg.LinAlgError:
            z = np.full((n, n), np.nan + 0j)
        y_shunt = 2.0 * (y11 - y_series)
        buses = el.BusNames()
        out.append(DssLine(
            name=name.lower(), bus1=_bus_and_nodes(buses[0])[0], bus2=_bus_and_nodes(buses[1])[0],
            phases=_phases_of(buses[0], n), z_ohm=z, y_shunt_s=y_shunt,
            norm_amps=float(dss.Lines.NormAmps()), is_switch=bool(dss.Lines.IsSwitch()),
            enabled=bool(el.Enabled()),
            open_terminals=(bool(el.IsOpen(1, 0)), bool(el.IsOpen(2, 0))),
        ))
    return tuple(out)


def _regulated_windings(dss) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out: dict[str, int] = {}
    for name in _iterate(dss.RegControls):
        out[dss.RegControls.Transformer().lower()] = int(dss.RegControls.Winding())
        del name
    return out


def _read_transformers(dss) -> tuple[DssTransformer, ...]:  # type: ignore[no-untyped-def]
    regulated = _regulated_windings(dss)
    out = []
    for name in _iterate(dss.Transformers):
        full = f"Transformer.{name}"
        el = dss.CktElement
        buses = el.BusNames()
        n_phases = int(el.NumPhases())
        windings = []
        for w in range(1, int(dss.Transformers.NumWindings()) + 1):
            dss.Transformers.Wdg(w)
            windings.append(DssWinding(
                bus=_bus_and_nodes(buses[w - 1])[0], kv=float(dss.Transformers.kV()),
                kva=float(dss.Transformers.kVA()), pct_r=float(dss.Transformers.R()),
                is_delta=bool(dss.Transformers.IsDelta()), tap_pu=float(dss.Transformers.Tap()),
            ))
        n_taps = int(dss.Transformers.NumTaps()) or 32
        tmin, tmax = float(dss.Transformers.MinTap()), float(dss.Transformers.MaxTap())
        out.append(DssTransformer(
            name=name.lower(), phases=_phases_of(buses[0], n_phases), windings=tuple(windings),
            xhl_pct=float(dss.Transformers.Xhl()),
            noload_loss_pct=_fprop(dss, full, "%noloadloss"),
            imag_pct=_fprop(dss, full, "%imag"),
            tap_step_pu=(tmax - tmin) / n_taps, min_tap_pu=tmin, max_tap_pu=tmax,
            regulated_winding=regulated.get(name.lower(), 0), enabled=bool(el.Enabled()),
        ))
    return tuple(out)


def _read_loads(dss) -> tuple[DssLoad, ...]:  # type: ignore[no-untyped-def]
    mult = float(dss.Solution.LoadMult())
    out = []
    for name in _iterate(dss.Loads):
        el = dss.CktElement
        bus = el.BusNames()[0]
        out.append(DssLoad(
            name=name.lower(), bus=_bus_and_nodes(bus)[0],
            phases=_phases_of(bus, int(el.NumPhases())),
            kw=float(dss.Loads.kW()) * mult, kvar=float(dss.Loads.kvar()) * mult,
            model=int(dss.Loads.Model()), kv=float(dss.Loads.kV()),
            is_delta=bool(dss.Loads.IsDelta()), enabled=bool(el.Enabled()),
        ))
    return tuple(out)


def _read_shunts(dss) -> tuple[DssShunt, ...]:  # type: ignore[no-untyped-def]
    out = []
    for name in _iterate(dss.Capacitors):
        el = dss.CktElement
        bus = el.BusNames()[0]
        states = list(dss.Capacitors.States()) or [1]
        rated = float(dss.Capacitors.kvar())
        out.append(DssShunt(
            name=name.lower(), bus=_bus_and_nodes(bus)[0],
            phases=_phases_of(bus, int(el.NumPhases())),
            kvar_on=rated * sum(1 for s in states if s) / len(states), kvar_rated=rated,
            kv=float(dss.Capacitors.kV()), enabled=bool(el.Enabled()),
        ))
    return tuple(out)


def _injected(dss) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    powers = np.asarray(dss.CktElement.Powers(), dtype=float)
    n = int(dss.CktElement.NumConductors())
    return -float(powers[0:2 * n:2].sum()), -float(powers[1:2 * n:2].sum())


def _read_generation(dss) -> tuple[DssGeneration, ...]:  # type: ignore[no-untyped-def]
    out = []
    for kind, api in (("pvsystem", dss.PVsystems), ("storage", dss.Storages),
                      ("generator", dss.Generators)):
        for name in _iterate(api):
            full = f"{kind}.{name}"
            el = dss.CktElement
            bus = el.BusNames()[0]
            kw, kvar = _injected(dss)
            rated = {"pvsystem": "pmpp", "storage": "kwrated", "generator": "kw"}[kind]
            out.append(DssGeneration(
                name=name.lower(), kind=kind, bus=_bus_and_nodes(bus)[0],
                phases=_phases_of(bus, int(el.NumPhases())), kw=kw, kvar=kvar,
                kw_rated=_fprop(dss, full, rated), kva_rated=_fprop(dss, full, "kva"),
                kwh_rated=_fprop(dss, full, "kwhrated") if kind == "storage" else 0.0,
                pct_stored=_fprop(dss, full, "%stored") if kind == "storage" else 0.0,
                pct_reserve=_fprop(dss, full, "%reserve") if kind == "storage" else 0.0,
                enabled=bool(el.Enabled()),
            ))
    return tuple(out)


def _read_switch_controls(dss) -> tuple[DssSwitchControl, ...]:  # type: ignore[no-untyped-def]
    out = []
    for name in _iterate(dss.SwtControls):
        full = f"SwtControl.{name}"
        state = _prop(dss, full, "state").strip().lower()
        normal = _prop(dss, full, "normal").strip().lower()
        out.append(DssSwitchControl(
            name=name.lower(), switched_obj=dss.SwtControls.SwitchedObj().lower(),
            is_open=state.startswith("o"), normally_open=normal.startswith("o"),
        ))
    return tuple(out)


def _read_sources(dss) -> tuple[DssSource, ...]:  # type: ignore[no-untyped-def]
    out = []
    for name in _iterate(dss.Vsources):
        bus = dss.CktElement.BusNames()[0]
        out.append(DssSource(
            name=name.lower(), bus=_bus_and_nodes(bus)[0], pu=float(dss.Vsources.PU()),
            angle_deg=float(dss.Vsources.AngleDeg()), base_kv=float(dss.Vsources.BasekV()),
        ))
    return tuple(out)


def _unsupported(dss) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    names = []
    for full in dss.Circuit.AllElementNames():
        cls = full.split(".", 1)[0].lower()
        if cls not in HANDLED_CLASSES:
            names.append(full)
    return tuple(names)


def read_circuit(path: str | Path) -> DssCircuit:
    """Compile, solve and read the OpenDSS model at ``path``.

    Parameters
    ----------
    path
        The master ``.dss`` file (or a run script that compiles one and adjusts it).

    Returns
    -------
    DssCircuit

    Raises
    ------
    InputError
        See :func:`compile_circuit`.
    """
    dss = dss_engine()
    file = Path(path).expanduser()
    compile_circuit(file)
    losses = dss.Circuit.Losses()
    total = dss.Circuit.TotalPower()
    solution = DssSolution(
        converged=bool(dss.Solution.Converged()), iterations=int(dss.Solution.Iterations()),
        source_kw=-float(total[0]), source_kvar=-float(total[1]),
        losses_kw=float(losses[0]) / 1e3, losses_kvar=float(losses[1]) / 1e3,
    )
    versions = {"opendssdirect": str(getattr(dss, "__version__", "?")),
                "engine": str(dss.Basic.Version()).split("[")[0].strip()}
    return DssCircuit(
        name=str(dss.Circuit.Name()), path=file, base_frequency_hz=float(dss.Solution.Frequency()),
        buses=_read_buses(dss), lines=_read_lines(dss), transformers=_read_transformers(dss),
        loads=_read_loads(dss), shunts=_read_shunts(dss), generation=_read_generation(dss),
        switch_controls=_read_switch_controls(dss), sources=_read_sources(dss),
        solution=solution, unsupported=_unsupported(dss), versions=versions,
        vmin_pu=float(dss.Settings.NormVminpu()), vmax_pu=float(dss.Settings.NormVmaxpu()),
    )
