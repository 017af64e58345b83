"""The context subcommand handlers run in: the plugin host once, the workspace on demand."""

from __future__ import annotations

import argparse
import io
import warnings

import pytest

import studio.plugins
from studio.context import EXIT_USAGE, Context, parse_options
from studio.errors import StudioError, WorkspaceLocked
from studio.workspace import Workspace, create_workspace


def test_the_host_loads_once_and_its_warnings_print_once(monkeypatch):
    loads = []

    def load_host():
        loads.append(1)
        warnings.warn("plugin 'broken': failed to load", studio.plugins.PluginWarning, stacklevel=2)
        return object()

    monkeypatch.setattr(studio.plugins, "load_host", load_host)
    err = io.StringIO()
    ctx = Context(argparse.Namespace(), stderr=err)
    assert ctx.host is ctx.host
    assert loads == [1]
    assert err.getvalue() == "warning: plugin 'broken': failed to load\n"


def test_the_workspace_opens_once_and_close_releases_its_lock(tmp_path):
    create_workspace(tmp_path / "ws")
    ctx = Context(argparse.Namespace(workspace=str(tmp_path / "ws")))
    ws = ctx.workspace(lock=True)
    assert ctx.workspace() is ws
    with pytest.raises(WorkspaceLocked):
        Workspace(tmp_path / "ws").lock()
    ctx.close()
    Workspace(tmp_path / "ws").lock().unlock()


def test_errors_are_reported_one_way():
    err = io.StringIO()
    ctx = Context(argparse.Namespace(), stderr=err)
    assert ctx.error(StudioError("studio.toml:3: expected a number")) == EXIT_USAGE
    assert ctx.error("no run to stop", 1) == 1
    assert err.getvalue() == "error: studio.toml:3: expected a number\nerror: no run to stop\n"


def test_options_are_name_value_pairs():
    assert parse_options(["count=20", " seed =1=2"]) == {"count": "20", "seed": "1=2"}
    with pytest.raises(StudioError, match="--opt 'count': expected NAME=VALUE"):
        parse_options(["count"])
