"""Plugin discovery: built-ins come through entry points; broken and blocked ones are contained."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points

from studio import hookimpl
from studio.plugins import ENTRY_POINT_GROUP, PluginWarning, load_host

BUILTINS = {"screenplay", "prose", "subtitle", "augment", "models"}


def test_builtins_are_entry_points_of_our_distribution():
    eps = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert BUILTINS <= set(eps)
    for name in BUILTINS:
        assert eps[name].dist.name == "persona-studio"


def test_host_collects_what_builtins_register(host):
    assert {"screenplay", "prose", "subtitle"} <= set(host.parsers)
    assert {"qwen2", "llama3", "internlm2", "glm4", "mistral", "tiny-qwen2"} <= set(host.adapters)
    assert "persona-qa" in host.augmenters
    assert host.infos["screenplay"].registered == ["parser:screenplay"]
    assert not host.problems


def test_disable_env_blocks_plugins(monkeypatch):
    monkeypatch.setenv("PERSONA_STUDIO_DISABLE_PLUGINS", "prose, subtitle")
    host = load_host()
    assert "prose" not in host.parsers and "subtitle" not in host.parsers
    assert host.infos["prose"].blocked
    assert "screenplay" in host.parsers


class _ThrowawayParser:
    name = "throwaway"
    description = "test parser"
    options = ()

    def sniff(self, source):
        return 0.0

    def parse(self, source, options):
        raise NotImplementedError


class ThrowawayPlugin:
    @hookimpl
    def register_corpus_parsers(self, register):
        register(_ThrowawayParser())


def test_a_third_party_plugin_registers_beside_builtins():
    host = load_host(extra=[("throwaway", ThrowawayPlugin())])
    assert "throwaway" in host.parsers and "screenplay" in host.parsers
    assert host.infos["throwaway"].registered == ["parser:throwaway"]


class BrokenPlugin:
    @hookimpl
    def register_corpus_parsers(self, register):
        raise RuntimeError("boom")


class ClashingPlugin:
    @hookimpl
    def register_corpus_parsers(self, register):
        register(type("P", (_ThrowawayParser,), {"name": "screenplay"})())


def test_broken_and_clashing_plugins_warn_once_and_the_rest_works():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        host = load_host(extra=[("broken", BrokenPlugin()), ("clash", ClashingPlugin())])
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]
    assert any("broken" in m and "boom" in m for m in messages)
    assert any("'screenplay' is already registered" in m for m in messages)
    assert (
        "screenplay" in host.parsers
        and type(host.parsers["screenplay"]).__name__ == "ScreenplayParser"
    )
    assert len(host.problems) == 2


def test_entry_point_that_fails_to_import_is_reported(monkeypatch):
    from importlib.metadata import EntryPoint

    import studio.plugins as plugins_mod

    real = plugins_mod.entry_points

    def fake_entry_points(group):
        eps = list(real(group=group))
        eps.append(EntryPoint(name="ghost", value="no_such_module_xyz", group=group))
        return eps

    monkeypatch.setattr(plugins_mod, "entry_points", fake_entry_points)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        host = load_host()
    assert host.infos["ghost"].error and "no_such_module_xyz" in host.infos["ghost"].error
    assert any("ghost" in str(w.message) for w in caught)
    assert "screenplay" in host.parsers


def test_plugins_command_lists_distribution_and_registrations(capsys):
    from studio.cli import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "screenplay" in out and "persona-studio" in out and "model adapter  tiny-qwen2" in out
    assert "llm_accept" not in out  # options only when asked


def test_plugins_options_lists_each_parsers_settings_with_default_and_choices(capsys):
    from studio.cli import main

    assert main(["plugins", "--options"]) == 0
    out = capsys.readouterr().out
    prose = out[out.index("parser         prose") : out.index("screenplay")]
    assert 'llm_accept = "agree"' in prose and "(one of confirm, agree, any)" in prose
    assert "llm_batch = 16: Quotes asked together" in prose
