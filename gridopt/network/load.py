"""Load a network from any supported source into a :class:`LoadedNetwork`.

Sources (the ``spec`` of :func:`load_network`):

* a pandapower built-in name: any function of :mod:`pandapower.networks` that returns a net
  (``case118``, ``case33bw``, ``case1354pegase``, ``mv_oberrhein``, ...);
* a PGLib sample shipped with gridopt in ``data/pglib`` (``pglib_opf_case14_ieee``);
* a path to a MATPOWER/PGLib ``.m`` file or a pandapower ``.json`` file;
* ``simbench:<code>`` (needs the optional ``simbench`` package);
* a path to an OpenDSS ``.dss`` master file (compiled and solved in-process, converted into a
  balanced net: :mod:`gridopt.network.opendss`);
* a ``pandapowerNet`` object (deep-copied; the caller's net is never touched).
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandapower as pp
import pandapower.networks as pn
from pandapower.auxiliary import pandapowerNet

from gridopt.errors import InputError
from gridopt.network.arrays import Network, build_network
from gridopt.network.case import CaseData
from gridopt.network.case_model import model_from_case
from gridopt.network.case_to_pandapower import pandapower_from_case
from gridopt.network.matpower import read_matpower
from gridopt.network.model import ElementMap, NetworkModel, SourceKind
from gridopt.network.opendss import DSS_SUFFIXES, read_opendss
from gridopt.network.pandapower_io import case_from_pandapower
from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.network.samples import sample_case_names, sample_case_path

logger = logging.getLogger(__name__)

SIMBENCH_PREFIX = "simbench:"


@dataclass(frozen=True, eq=False)
class LoadedNetwork:
    """A network ready for optimisation and for the pandapower power-flow check.

    Attributes
    ----------
    case
        The raw case (MATPOWER semantics).
    spec
        What the user asked for (name, path or ``simbench:<code>``).
    source_kind
        Kind of source.
    _pandapower_net
        Private pandapower net with the same equations as ``case``; never handed out to be
        mutated: :func:`gridopt.validate.acpf.check_ac` works on a copy.
    _element_map
        Pandapower element of every case position.
    """

    case: CaseData
    spec: str
    source_kind: SourceKind
    _pandapower_net: pandapowerNet = field(repr=False)
    _element_map: ElementMap = field(repr=False)

    @functools.cached_property
    def network(self) -> Network:
        """The solver-facing network ``build_network(case)`` (built once)."""
        return build_network(self.case)

    @property
    def name(self) -> str:
        """Case name."""
        return self.case.name

    @functools.cached_property
    def model(self) -> NetworkModel:
        """The one network model of this source (built once; see :mod:`gridopt.network.model`)."""
        if self.source_kind is SourceKind.MATPOWER:
            return model_from_case(self.case)
        return model_from_pandapower(self._pandapower_net, self.case.name)

    @property
    def element_map(self) -> ElementMap:
        """Pandapower element of every case bus, generator and branch."""
        return self._element_map

    def pandapower_net(self) -> pandapowerNet:
        """Return a deep copy of the pandapower net (safe to modify)."""
        return copy.deepcopy(self._pandapower_net)


@functools.cache
def pandapower_network_names() -> tuple[str, ...]:
    """Names of the functions of :mod:`pandapower.networks` that can be called without arguments."""
    names = []
    for name in dir(pn):
        if name.startswith("_"):
            continue
        obj = getattr(pn, name)
        if not inspect.isfunction(obj):
            continue
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            continue
        if all(
            p.default is not inspect.Parameter.empty
            or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            for p in params
        ):
            names.append(name)
    return tuple(sorted(names))


def _sample_names() -> list[str]:
    try:
        return sample_case_names()
    except InputError:
        return []


def _from_net(net: pandapowerNet, name: str, spec: str, kind: SourceKind) -> LoadedNetwork:
    case, emap = case_from_pandapower(net, name)
    return LoadedNetwork(case=case, spec=spec, source_kind=kind, _pandapower_net=net,
                         _element_map=emap)


def _from_matpower(path: Path, spec: str) -> LoadedNetwork:
    case = read_matpower(path)
    net, emap = pandapower_from_case(case)
    return LoadedNetwork(case=case, spec=spec, source_kind=SourceKind.MATPOWER,
                         _pandapower_net=net, _element_map=emap)


def _from_json(path: Path, spec: str) -> LoadedNetwork:
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path of the pandapower JSON file")
    try:
        net = pp.from_json(str(path))
    except Exception as exc:  # pandapower raises many kinds for malformed input
        raise InputError(
            f"{path}: not a readable pandapower JSON network ({type(exc).__name__}: {exc}); "
            "write it with pandapower.to_json"
        ) from None
    if not isinstance(net, pandapowerNet) or "bus" not in net:
        raise InputError(
            f"{path}: the JSON file holds a {type(net).__name__}, not a pandapower network; "
            "write the net with pandapower.to_json"
        )
    return _from_net(net, path.stem, spec, SourceKind.PANDAPOWER_JSON)


def _from_simbench(code: str, spec: str) -> LoadedNetwork:
    try:
        import simbench as sb
    except ImportError:
        raise InputError(
            f"{spec!r}: SimBench networks need the optional package 'simbench'; install it with "
            "`pip install simbench` (or `pip install gridopt[simbench]`)"
        ) from None
    if not code:
        raise InputError(f"{spec!r}: give a SimBench code, e.g. simbench:1-LV-rural1--0-sw")
    try:
        net = sb.get_simbench_net(code)
    except Exception as exc:  # simbench raises ValueError/KeyError/... for unknown codes
        raise InputError(
            f"{spec!r}: SimBench has no network {code!r} ({type(exc).__name__}: {exc}); codes "
            "look like 1-LV-rural1--0-sw or 1-MV-urban--0-sw"
        ) from None
    return _from_net(net, code, spec, SourceKind.SIMBENCH)


def _from_builtin(name: str, spec: str) -> LoadedNetwork:
    func = getattr(pn, name)
    try:
        net = func()
    except Exception as exc:  # a built-in that needs arguments or data we do not have
        raise InputError(
            f"{spec!r}: pandapower.networks.{name}() failed ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(net, pandapowerNet):
        raise InputError(
            f"{spec!r}: pandapower.networks.{name}() returns a {type(net).__name__}, not a "
            "network; choose a function that returns a pandapower net"
        )
    return _from_net(net, name, spec, SourceKind.PANDAPOWER_BUILTIN)


def load_network(spec: str | Path | pandapowerNet) -> LoadedNetwork:
    """Load a network from a name, a file, a SimBench code or a pandapower net.

    Parameters
    ----------
    spec
        ``case118`` (pandapower built-in), ``pglib_opf_case14_ieee`` (shipped PGLib sample),
        ``path/to/case.m``, ``path/to/net.json``, ``path/to/Master.dss``, ``simbench:<code>``,
        or a ``pandapowerNet``
        (deep-copied).

    Returns
    -------
    LoadedNetwork

    Raises
    ------
    InputError
        Missing file, unknown name (with close matches), malformed ``.m`` file, a JSON file
        that is not a pandapower net, a net without reference bus, missing ``simbench``
        package, or elements gridopt cannot model.

    Examples
    --------
    >>> from gridopt.network.load import load_network
    >>> loaded = load_network("pglib_opf_case5_pjm")
    >>> loaded.case.n_bus, loaded.source_kind.value
    (5, 'matpower')
    """
    if isinstance(spec, pandapowerNet):
        net = copy.deepcopy(spec)
        name = str(net.name) if getattr(net, "name", "") else "pandapower net"
        return _from_net(net, name, name, SourceKind.PANDAPOWER_OBJECT)
    if not isinstance(spec, str | Path):
        raise InputError(
            f"cannot load a network from a {type(spec).__name__}; give a case name, a .m or "
            ".json path, 'simbench:<code>' or a pandapower net"
        )
    text = str(spec).strip()
    if text.startswith(SIMBENCH_PREFIX):
        return _from_simbench(text[len(SIMBENCH_PREFIX):].strip(), text)
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".m":
        return _from_matpower(path, text)
    if suffix == ".json":
        return _from_json(path, text)
    if suffix in DSS_SUFFIXES:
        return _from_net(read_opendss(path), path.stem, text, SourceKind.OPENDSS)
    if path.is_file():
        raise InputError(
            f"{path}: unknown network file type {path.suffix!r}; give a MATPOWER '.m', a "
            "pandapower '.json' or an OpenDSS '.dss' file"
        )
    if text in pandapower_network_names():
        return _from_builtin(text, text)
    samples = _sample_names()
    if text in samples:
        return _from_matpower(sample_case_path(text), text)
    if "/" in text or "\\" in text or path.suffix:
        raise InputError(f"{path}: file not found; check the path of the network file")
    choices = list(pandapower_network_names()) + samples
    close = difflib.get_close_matches(text, choices, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InputError(
        f"unknown network {text!r}: not a file, not a pandapower.networks name and not a PGLib "
        f"sample{hint} (samples: {', '.join(samples) or 'none'}; or use simbench:<code>)"
    )
