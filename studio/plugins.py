"""Provides the plugin manager and the registries of parsers, augmenters and model adapters.

Built-ins and third-party plugins are found the same way: the ``persona_studio`` entry-point
group. A plugin that fails to import or whose hook raises is reported once and skipped; the
rest of the studio keeps working.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

import pluggy

from studio import hookspecs

ENTRY_POINT_GROUP = "persona_studio"
DISABLE_ENV = "PERSONA_STUDIO_DISABLE_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin could not be loaded or registered something invalid."""


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, for ``persona-studio plugins``."""

    name: str
    distribution: str = ""
    version: str = ""
    module: str = ""
    error: str | None = None
    blocked: bool = False
    registered: list[str] = field(default_factory=list)


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


@dataclass
class PluginHost:
    """The plugin manager plus what each plugin registered.

    Attributes:
        pm: the pluggy manager.
        infos: every plugin that was found, loaded, failed or blocked.
        parsers / augmenters / adapters: name → object, after clash checks.
        problems: readable messages about plugins that failed.
    """

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo]
    parsers: dict[str, Any] = field(default_factory=dict)
    augmenters: dict[str, Any] = field(default_factory=dict)
    adapters: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def collect(self) -> PluginHost:
        """Run the three ``register_*`` hooks into the registries."""
        self.parsers, self.augmenters, self.adapters = {}, {}, {}
        for hook, registry, kind, required in (
            ("register_corpus_parsers", self.parsers, "parser", ("name", "sniff", "parse")),
            ("register_augmenters", self.augmenters, "augmenter", ("name", "propose")),
            ("register_model_adapters", self.adapters, "model adapter", ("name", "load_model")),
        ):
            # registration order (get_plugins() is a set): the first plugin to register a name keeps it
            for plugin_name, plugin in self.pm.list_name_plugin():
                if plugin is None:  # blocked
                    continue
                impl = getattr(plugin, hook, None)
                if impl is None:
                    continue
                registered: list[Any] = []
                try:
                    impl(register=registered.append)
                except (
                    Exception,
                    SystemExit,
                ) as exc:  # a broken plugin must not take the studio down
                    self._problem(plugin_name, f"{hook} raised {type(exc).__name__}: {exc}")
                    continue
                for obj in registered:
                    missing = [attr for attr in required if not hasattr(obj, attr)]
                    if missing:
                        self._problem(
                            plugin_name, f"registered a {kind} without {', '.join(missing)}"
                        )
                        continue
                    name = obj.name
                    if not isinstance(name, str) or not name:
                        self._problem(
                            plugin_name,
                            f"registered a {kind} whose name is {name!r}; expected a string",
                        )
                        continue
                    if name in registry:
                        self._problem(
                            plugin_name, f"{kind} {name!r} is already registered; ignored"
                        )
                        continue
                    registry[name] = obj
                    obj_plugin = self.infos.setdefault(plugin_name, PluginInfo(plugin_name))
                    obj_plugin.registered.append(f"{kind}:{name}")
        return self

    def _problem(self, plugin: str, message: str) -> None:
        text = f"plugin {plugin!r}: {message}"
        self.problems.append(text)
        info = self.infos.setdefault(plugin, PluginInfo(plugin))
        info.error = message
        warnings.warn(text, PluginWarning, stacklevel=3)


def get_plugin_manager(
    *, blocked: Iterable[str] = ()
) -> tuple[pluggy.PluginManager, dict[str, PluginInfo]]:
    """Build a manager with every installed plugin, built-ins included (they are entry points too).

    Args:
        blocked: plugin (entry-point) names not to load, added to ``PERSONA_STUDIO_DISABLE_PLUGINS``.

    Returns:
        The manager and an info record for every entry point seen.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    blocked_names = {*blocked, *_env_list(DISABLE_ENV)}
    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            distribution=getattr(dist, "name", "") or "",
            version=getattr(dist, "version", "") or "",
            module=ep.value,
        )
        infos[ep.name] = info
        if ep.name in blocked_names:
            info.blocked = True
            pm.set_blocked(ep.name)
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except (Exception, SystemExit) as exc:  # one readable warning, the studio keeps working
            info.error = f"failed to load {ep.value}: {type(exc).__name__}: {exc}"
            warnings.warn(f"plugin {ep.name!r} {info.error}", PluginWarning, stacklevel=2)
    _drop_unknown_hooks(pm, infos)
    return pm, infos


def _drop_unknown_hooks(pm: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> None:
    """``check_pending``, but a plugin with a misspelled hook is unloaded with a warning, not fatal."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            pm.unregister(exc.plugin)
            info = infos.setdefault(name, PluginInfo(name))
            info.error = f"not loaded: {exc}"
            warnings.warn(f"plugin {name!r} {info.error}", PluginWarning, stacklevel=3)


def load_host(*, blocked: Iterable[str] = (), extra: Iterable[tuple[str, Any]] = ()) -> PluginHost:
    """Load every plugin and collect what they register.

    Args:
        blocked: plugin names not to load.
        extra: ``(name, plugin)`` pairs registered directly (tests, embedding applications).
    """
    pm, infos = get_plugin_manager(blocked=blocked)
    for name, plugin in extra:
        pm.register(plugin, name=name)
        infos.setdefault(name, PluginInfo(name, module=getattr(plugin, "__name__", repr(plugin))))
    return PluginHost(pm, infos).collect()


@lru_cache(maxsize=1)
def default_host() -> PluginHost:
    """The process-wide host (cached): every installed plugin, minus the disabled ones."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return load_host()
