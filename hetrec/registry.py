"""Encoder plugins: discovery through the ``hetrec.encoders`` entry-point group, and their Hydra configs.

Any installed distribution can add an encoder by declaring an entry point::

    [project.entry-points."hetrec.encoders"]
    lightgcn = "hetrec_lightgcn:LightGCN"

and shipping its Hydra config as package data at ``<package>/conf/encoder/<name>.yaml`` (searched from the entry
point's module up to its top-level package). hetrec registers its own built-ins (``gcn``, ``rgcn``, ``sage``) the
same way. Discovery is lazy: listing encoders and registering their configs reads only the installed metadata and
the YAML files; a plugin's module is imported when its class is first asked for (:func:`get_encoder_class`).

Call :func:`register_configs` before composing a Hydra config; then ``encoder=<name>`` (and ``-m encoder=a,b``)
selects any installed encoder, and Hydra's own error lists the installed names for a wrong one.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hetrec.errors import HetrecError

__all__ = [
    "GROUP",
    "EncoderInfo",
    "PluginError",
    "UnknownEncoderError",
    "PluginConflictError",
    "PluginImportError",
    "available_encoders",
    "encoder_info",
    "get_encoder_class",
    "encoder_config",
    "register_configs",
    "describe_plugins",
]

GROUP = "hetrec.encoders"
"""The entry-point group of encoder plugins."""


class PluginError(HetrecError, RuntimeError):
    """A problem with an installed encoder plugin."""


class UnknownEncoderError(PluginError, KeyError):
    """No installed package provides the requested encoder name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PluginConflictError(PluginError):
    """Two installed packages provide the same encoder name."""


class PluginImportError(PluginError, ImportError):
    """A plugin's encoder could not be imported."""


@dataclass(frozen=True)
class EncoderInfo:
    """An installed encoder, as declared by its entry point (nothing imported).

    Attributes:
        name: the encoder's name (``encoder=<name>``).
        value: the entry point, ``"module:Class"``.
        package: the distribution that declares it (``pip install`` name).
        version: that distribution's version.
        config: path of the packaged YAML, or ``None`` when the plugin ships none (then the config is just
            ``_target_`` and the class's defaults).
    """

    name: str
    value: str
    package: str
    version: str
    config: str | None

    @property
    def module(self) -> str:
        return self.value.split(":", 1)[0].strip()

    @property
    def attr(self) -> str:
        return self.value.split(":", 1)[1].strip() if ":" in self.value else ""

    @property
    def target(self) -> str:
        """The dotted path Hydra's ``_target_`` uses."""
        return f"{self.module}.{self.attr}" if self.attr else self.module


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=GROUP))


def _dist_of(ep: importlib.metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.value.split(":", 1)[0].split(".", 1)[0], "?"
    name = dist.metadata["Name"] if dist.metadata is not None else None
    return str(name or getattr(dist, "name", "?")), str(dist.version or "?")


def _find_config(name: str, module: str) -> str | None:
    """``conf/encoder/<name>.yaml`` in the entry point's package or one of its parents, as an absolute path.

    Nothing is imported: only the top-level package is located (``find_spec`` of a top-level name imports nothing;
    of a submodule it would import the parents, e.g. ``hetrec.models`` and with it torch), and the sub-packages are
    folders below it.
    """
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for i in range(len(parts), 0, -1):
        for loc in spec.submodule_search_locations:
            path = Path(loc, *parts[1:i], "conf", "encoder", f"{name}.yaml")
            if path.is_file():
                return os.path.abspath(path)
    return None


def _discover() -> tuple[dict[str, EncoderInfo], dict[str, list[EncoderInfo]]]:
    """All declared encoders: ``(unique, conflicts)`` where ``conflicts`` maps a name claimed by more than one
    distribution to every claim."""
    claims: dict[str, list[EncoderInfo]] = {}
    for ep in _entry_points():
        package, version = _dist_of(ep)
        info = EncoderInfo(ep.name, ep.value, package, version, None)
        seen = claims.setdefault(ep.name, [])
        # the same distribution found twice on sys.path (e.g. an editable install plus its source egg-info)
        if any(s.package.lower().replace("_", "-") == package.lower().replace("_", "-") for s in seen):
            continue
        seen.append(info)
    unique: dict[str, EncoderInfo] = {}
    conflicts: dict[str, list[EncoderInfo]] = {}
    for name, infos in claims.items():
        if len(infos) > 1:
            conflicts[name] = infos
        else:
            i = infos[0]
            unique[name] = EncoderInfo(i.name, i.value, i.package, i.version, _find_config(i.name, i.module))
    return unique, conflicts


def _conflict_error(name: str, infos: list[EncoderInfo]) -> PluginConflictError:
    who = " and ".join(f"'{i.package}' {i.version} ({i.value})" for i in infos)
    return PluginConflictError(
        f"encoder '{name}' is provided by more than one installed package: {who}; uninstall one of them "
        f"(pip uninstall {infos[-1].package}) or rename its entry point in group '{GROUP}'"
    )


def available_encoders() -> dict[str, EncoderInfo]:
    """Every installed encoder by name (sorted), read from entry points without importing any plugin.

    Raises:
        PluginConflictError: two distributions declare the same encoder name (the message names both).
    """
    unique, conflicts = _discover()
    if conflicts:
        name = sorted(conflicts)[0]
        raise _conflict_error(name, conflicts[name])
    return dict(sorted(unique.items()))


def encoder_info(name: str) -> EncoderInfo:
    """The installed encoder ``name`` (nothing imported).

    Raises:
        UnknownEncoderError: no installed package provides ``name`` (the message lists what is installed and says
            that a new entry point needs a reinstall).
        PluginConflictError: two packages provide ``name``.
    """
    return _lookup(name)


def _lookup(name: str) -> EncoderInfo:
    unique, conflicts = _discover()
    if name in conflicts:
        raise _conflict_error(name, conflicts[name])
    if name not in unique:
        installed = ", ".join(sorted(set(unique) | set(conflicts))) or "none"
        raise UnknownEncoderError(
            f"unknown encoder '{name}'; installed: {installed}. Install a plugin that provides it; a plugin "
            f"whose entry point was added or renamed needs `pip install -e <plugin folder>` again (entry points are "
            f"read from the installed metadata)."
        )
    return unique[name]


def get_encoder_class(name: str) -> type:
    """Import and return the encoder class registered under ``name``.

    Raises:
        UnknownEncoderError: no installed package provides ``name`` (the message lists what is installed).
        PluginConflictError: two packages provide ``name``.
        PluginImportError: the plugin failed to import (the message names the package and the error).
    """
    info = _lookup(name)
    for ep in _entry_points():
        if ep.name == name and ep.value == info.value:
            break
    else:  # pragma: no cover - the environment changed between the two reads
        raise UnknownEncoderError(f"encoder '{name}' disappeared while loading; reinstall '{info.package}'")
    try:
        cls = ep.load()
    except Exception as e:  # any failure inside the plugin's import is the plugin's
        raise PluginImportError(
            f"encoder '{name}' from package '{info.package}' {info.version} failed to import ({info.value}): "
            f"{type(e).__name__}: {e}. Fix or reinstall the plugin (pip install -e <its folder>), or uninstall it "
            f"(pip uninstall {info.package})"
        ) from e
    if not callable(cls):
        raise PluginImportError(
            f"encoder '{name}' from package '{info.package}' points to {info.value}, which is a "
            f"{type(cls).__name__}, not an encoder class"
        )
    return cls


def encoder_config(name: str) -> dict[str, Any]:
    """The packaged Hydra config of ``name`` as a plain dict (``{"_target_": ...}`` if the plugin ships none)."""
    from omegaconf import OmegaConf

    info = _lookup(name)
    return _load_config(info, OmegaConf)


def _load_config(info: EncoderInfo, OmegaConf: Any) -> dict[str, Any]:
    if info.config is None:
        return {"_target_": info.target}
    try:
        cfg = OmegaConf.to_container(OmegaConf.load(info.config), resolve=False)
    except Exception as e:
        raise PluginError(
            f"encoder '{info.name}' from package '{info.package}': its config {info.config} is not valid YAML: {e}"
        ) from e
    if not isinstance(cfg, dict):
        raise PluginError(
            f"encoder '{info.name}' from package '{info.package}': its config {info.config} must be a mapping "
            f"with _target_, got {type(cfg).__name__}"
        )
    cfg.setdefault("_target_", info.target)
    for forbidden in ("etypes", "in_dims"):
        if forbidden in cfg:
            raise PluginError(
                f"encoder '{info.name}': its config {info.config} sets '{forbidden}', which comes from the data at "
                f"instantiation; remove it from the YAML"
            )
    return cfg


def register_configs() -> list[str]:
    """Store every installed encoder's packaged config in Hydra's ConfigStore (group ``encoder``, name = encoder).

    Call before ``hydra.compose`` / the Hydra app; safe to call repeatedly. Returns the registered names.

    Raises:
        PluginConflictError: two packages provide one name (one source of config per name).
    """
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    cs = ConfigStore.instance()
    names = []
    for name, info in available_encoders().items():
        node = OmegaConf.create(_load_config(info, OmegaConf))
        cs.store(group="encoder", name=name, node=node, provider=info.package)
        names.append(name)
    return names


def describe_plugins(as_json: bool = False) -> str:
    """The installed encoders as a table (or JSON list): name, package, version, config; conflicts are listed
    after the table rather than raised, so that ``hetrec plugins`` can show them."""
    unique, conflicts = _discover()
    rows = [asdict(i) for i in sorted(unique.values(), key=lambda i: i.name)]
    for name in sorted(conflicts):
        for i in conflicts[name]:
            rows.append({**asdict(i), "config": None, "conflict": True})
    rows.sort(key=lambda r: (r["name"], r["package"]))
    if as_json:
        return json.dumps(rows, indent=2)
    if not rows:
        return f"no encoders installed (entry-point group '{GROUP}')"
    head = ("name", "package", "version", "config")

    def show(path: str | None) -> str:
        return "(none: class defaults)" if path is None else path  # absolute (see _find_config): same on every call

    table = [head] + [
        (r["name"] + (" (CONFLICT)" if r.get("conflict") else ""), r["package"], r["version"], show(r["config"]))
        for r in rows
    ]
    widths = [max(len(t[c]) for t in table) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(t, widths)).rstrip() for t in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for name in sorted(conflicts):
        lines.append("")
        lines.append(str(_conflict_error(name, conflicts[name])))
    return "\n".join(lines)
