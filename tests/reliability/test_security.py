"""What the studio must not let in: paths out of the workspace, pickles, remote code, open ports,
leaked keys, and plugins that take it down.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from studio import hookimpl
from studio.api import ModelSpec, StrOption
from studio.cli import build_parser, main
from studio.config import ModelConfig
from studio.dataset.service import build_dataset
from studio.dataset.store import DatasetStore
from studio.errors import InputError, StudioError
from studio.plugins import load_host
from studio.train.base_model import load_model, model_spec
from studio.train.rundir import RunDir
from studio.workspace import Workspace

SECRET = b"the user's own file, never to be touched\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the workspace that nothing may read or write."""
    path = tmp_path / "outside" / "precious.txt"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def untouched(path: Path) -> bool:
    return path.read_bytes() == SECRET and sorted(p.name for p in path.parent.iterdir()) == [
        path.name
    ]


def set_toml(root: Path, extra: str) -> None:
    with open(root / "studio.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + extra + "\n")


# -- studio.toml, options and links cannot reach outside the workspace -----------------------------


@pytest.mark.parametrize("pattern", ["../outside/*", "/etc/*", "corpus/../../outside/*", ""])
def test_corpus_globs_stay_inside(zh_workspace, capsys, pattern):
    text = (
        (zh_workspace / "studio.toml")
        .read_text(encoding="utf-8")
        .replace("[model]", f'[corpus]\nfiles = ["{pattern}"]\n\n[model]')
    )
    (zh_workspace / "studio.toml").write_text(text, encoding="utf-8")
    assert main(["build", str(zh_workspace)]) == 2
    assert "studio.toml" in capsys.readouterr().err


def test_a_corpus_link_to_outside_is_refused_and_link_loops_end(zh_workspace, outside, capsys):
    corpus = zh_workspace / "corpus"
    (corpus / "a").symlink_to(".")  # two links to the folder itself: an endless ** walk
    (corpus / "b").symlink_to(".")
    set_toml(zh_workspace, "")
    text = (
        (zh_workspace / "studio.toml")
        .read_text(encoding="utf-8")
        .replace("[model]", '[corpus]\nfiles = ["corpus/**/*"]\n\n[model]')
    )
    (zh_workspace / "studio.toml").write_text(text, encoding="utf-8")
    assert [p.name for p in Workspace(zh_workspace).corpus_files()] == ["script.txt"]
    (corpus / "leak.txt").symlink_to(outside)
    assert main(["build", str(zh_workspace)]) == 2
    assert "outside the workspace" in capsys.readouterr().err
    assert untouched(outside)


def test_a_path_option_is_confined_to_the_workspace(zh_workspace, outside, host):
    from studio.corpus.inspect import parse_workspace

    novel = zh_workspace / "corpus" / "script.txt"
    novel.write_text("第一章\n\n“你好。”\n", encoding="utf-8")
    for value in (str(outside), "../outside/precious.txt", "corpus/../../outside/cache.jsonl"):
        set_toml(
            zh_workspace,
            f'[corpus.options]\nllm = "openai"\nllm_cache = "{value}"'
            if "corpus.options" not in (zh_workspace / "studio.toml").read_text(encoding="utf-8")
            else "",
        )
        text = (zh_workspace / "studio.toml").read_text(encoding="utf-8")
        text = text[: text.index("llm_cache")] + f'llm_cache = "{value}"\n'
        (zh_workspace / "studio.toml").write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=r"studio\.toml.*llm_cache.*outside the workspace"):
            parse_workspace(Workspace(zh_workspace), host.parsers)
    assert untouched(outside)


@pytest.mark.parametrize("folder", ["datasets", "runs", "exports", "chats"])
def test_a_layout_folder_linked_outside_is_refused(zh_workspace, outside, folder):
    (zh_workspace / folder).symlink_to(outside.parent)
    ws = Workspace(zh_workspace)
    with pytest.raises(StudioError, match="outside the workspace"):
        {
            "datasets": ws.dataset_dir,
            "runs": lambda: ws.run_dir("r1"),
            "exports": lambda: ws.exports_dir,
            "chats": lambda: ws.chats_dir,
        }[folder]()
    assert untouched(outside)


def test_build_refuses_a_datasets_link_to_outside(zh_workspace, outside, capsys):
    (zh_workspace / "datasets").symlink_to(outside.parent)
    assert main(["build", str(zh_workspace)]) == 2
    assert "outside the workspace" in capsys.readouterr().err
    assert untouched(outside)


@pytest.mark.parametrize("name", ["../../outside", "/tmp/x", "a/b", ".."])
def test_names_from_studio_toml_and_the_cli_cannot_climb_out(zh_workspace, outside, capsys, name):
    text = (
        (zh_workspace / "studio.toml")
        .read_text(encoding="utf-8")
        .replace("[dataset]", f'[dataset]\nname = "{name}"')
    )
    (zh_workspace / "studio.toml").write_text(text, encoding="utf-8")
    assert main(["build", str(zh_workspace)]) == 2
    assert "invalid name" in capsys.readouterr().err
    assert main(["train", str(zh_workspace), "--run", name, "--resume"]) == 2
    assert untouched(outside)


def test_journals_and_the_lock_are_never_written_through_a_link(
    zh_workspace, outside, host, capsys
):
    ws = Workspace(zh_workspace)
    build_dataset(ws, host.parsers)
    store = DatasetStore(ws.dataset_dir())
    sample = store.raw_samples()[0].id
    (ws.dataset_dir() / "journal.jsonl").symlink_to(
        outside
    )  # a planted link in a workspace from elsewhere
    assert main(["review", str(zh_workspace), "--accept", sample]) == 2
    assert "symbolic link" in capsys.readouterr().err
    (zh_workspace / ".studio.lock").unlink(missing_ok=True)
    (zh_workspace / ".studio.lock").symlink_to(outside)  # lock() truncates and rewrites its file
    with pytest.raises(StudioError, match="symbolic link"):
        Workspace(zh_workspace).lock()
    (zh_workspace / "corpus-fixes.jsonl").symlink_to(outside)
    from studio.corpus.fixes import record_fixes

    with pytest.raises(StudioError, match="symbolic link"):
        record_fixes(Workspace(zh_workspace), [("corpus/script.txt", 5, None)], "宜修")
    assert untouched(outside)


# -- models: no pickles from untrusted folders, no remote code -----------------------------


@pytest.fixture
def local_model(tmp_path: Path, host) -> Path:
    """A copy of the tiny Qwen2 model as a local folder (the adapter picks it by name)."""
    spec = ModelSpec("tiny-qwen2", source="tiny", cache_dir=str(tmp_path / "cache"))
    folder = tmp_path / "qwen2-local"
    shutil.copytree(host.adapters["tiny-qwen2"].fetch(spec), folder)
    return folder


def test_pickled_weights_are_refused_unless_allowed(local_model, host, monkeypatch, tmp_path):
    from safetensors.torch import load_file

    weights = load_file(str(local_model / "model.safetensors"))
    (local_model / "model.safetensors").unlink()
    marker = tmp_path / "pickle-ran"

    class Payload:  # what a hostile pickle does: run code while loading
        def __reduce__(self):
            return (Path.write_text, (marker, "ran"))

    torch.save({**weights, "extra": Payload()}, local_model / "pytorch_model.bin")
    spec = ModelSpec(str(local_model), source="local", adapter="qwen2")
    with pytest.raises(StudioError, match="pickled weights"):
        load_model(spec, host.adapters, device=torch.device("cpu"))
    assert not marker.exists()

    monkeypatch.setenv(
        "PERSONA_STUDIO_ALLOW_PICKLE", "1"
    )  # the user trusts this folder: it loads, safely
    torch.save(weights, local_model / "pytorch_model.bin")
    loaded = load_model(spec, host.adapters, device=torch.device("cpu"))
    assert loaded.model.config.model_type == "qwen2"


def test_remote_code_never_runs_unless_asked(local_model, host, tmp_path):
    marker = tmp_path / "remote-code-ran"
    (local_model / "modeling_evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8"
    )
    config = json.loads((local_model / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {
        "AutoConfig": "modeling_evil.EvilConfig",
        "AutoModelForCausalLM": "modeling_evil.EvilModel",
    }
    config["model_type"] = "evil"
    (local_model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert model_spec(ModelConfig()).trust_remote_code is False  # the default of studio.toml
    spec = model_spec(ModelConfig(name=str(local_model), source="local", adapter="qwen2"))
    with pytest.raises(StudioError):
        load_model(spec, host.adapters, device=torch.device("cpu"))
    assert not marker.exists()


def test_a_run_log_is_never_appended_through_a_link(zh_workspace, host, outside):
    from studio.train.runner import launch, prepare_run

    ws = Workspace(zh_workspace)
    build_dataset(ws, host.parsers)
    run_dir = prepare_run(ws, host.adapters, run_id="r", overrides={"max_steps": 1})
    RunDir(run_dir).log_file.symlink_to(outside)  # planted in a workspace from elsewhere
    with pytest.raises(StudioError, match="symbolic link"):
        launch(run_dir, detach=True)
    assert untouched(outside)


def test_a_checkpoint_state_cannot_run_code_on_resume(zh_workspace, host, tmp_path):
    from studio.train import checkpoint as ckpt
    from studio.train.recipe import run
    from studio.train.runner import prepare_run

    ws = Workspace(zh_workspace)
    build_dataset(ws, host.parsers)
    run_dir = prepare_run(
        ws, host.adapters, run_id="r", overrides={"max_steps": 2, "save_every": 2}
    )
    assert run(run_dir, adapters=host.adapters) == 0
    folder = ckpt.latest(RunDir(run_dir).checkpoints_dir)
    marker = tmp_path / "state-ran"

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (marker, "ran"))

    state = torch.load(folder / "state.pt", weights_only=True)
    torch.save({**state, "extra": Payload()}, folder / "state.pt")  # a planted checkpoint
    RunDir(run_dir).write_events([])
    shutil.rmtree(RunDir(run_dir).adapter_dir)
    assert (
        run(run_dir, resume=True, adapters=host.adapters) == 1
    )  # refused, reported as a failed run
    assert not marker.exists()


# -- serve: loopback by default, the key on every /v1 route, never in the log --------------


@pytest.fixture
def served(persona_run, host):
    from studio.chat.persona import load_persona
    from studio.serve.server import PersonaServer, serve_in_thread

    args = build_parser().parse_args(
        ["serve", str(persona_run.parents[1]), "--port", "0", "--api-key", "sk-serve"]
    )
    assert args.host == "127.0.0.1"  # loopback unless told otherwise
    persona = load_persona(Workspace(args.workspace), host.adapters, device=torch.device("cpu"))
    log = io.StringIO()
    server = PersonaServer(
        (args.host, args.port), persona, api_key=args.api_key, log=log, max_tokens_cap=16
    )
    serve_in_thread(server)
    yield server, log
    server.shutdown()
    server.server_close()


def call(
    server,
    method: str,
    path: str,
    body: bytes | None = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    request = urllib.request.Request(
        server.url.removesuffix("/v1") + path,
        data=body,
        method=method,
        headers={**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_binds_loopback_and_wants_the_key(served):
    server, log = served
    assert server.server_address[0] == "127.0.0.1"
    chat = json.dumps(
        {"model": "r1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    ).encode()
    for method, path, body in (
        ("GET", "/v1/models", None),
        ("GET", "/v1/models/r1", None),
        ("POST", "/v1/chat/completions", chat),
        ("POST", "/v1/anything", chat),
    ):
        for key in (None, "sk-wrong"):
            status, payload = call(server, method, path, body, key)
            assert status == 401 and payload["error"]["code"] == "invalid_api_key", (
                method,
                path,
                key,
            )
    assert call(server, "GET", "/health")[0] == 200
    status, payload = call(server, "POST", "/v1/chat/completions", chat, "sk-serve")
    assert status == 200 and payload["choices"][0]["message"]["role"] == "assistant"
    assert (
        "sk-serve" not in log.getvalue()
        and "sk-wrong" not in log.getvalue()
        and "/v1/models" in log.getvalue()
    )


def test_serve_refuses_absurd_bodies_without_a_traceback(served, capsys):
    server, _ = served
    nested = b'{"model": "r1", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, payload = call(server, "POST", "/v1/chat/completions", nested, "sk-serve")
    assert status == 400 and "nested" in payload["error"]["message"]
    with socket.create_connection(
        server.server_address[:2], timeout=30
    ) as client:  # 5 MB announced
        client.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-serve\r\n"
            b"Content-Length: 5242880\r\n\r\n"
        )
        assert b" 413 " in client.recv(65536).split(b"\r\n", 1)[0]
    assert "Traceback" not in capsys.readouterr().err


def test_serve_drops_a_client_that_stalls_mid_request(served, monkeypatch):
    from studio.serve import server as serve

    server, _ = served
    monkeypatch.setattr(serve._Handler, "timeout", 1.0)
    with socket.create_connection(server.server_address[:2], timeout=10) as stalled:
        stalled.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-serve\r\n"
            b'Content-Length: 1000\r\n\r\n{"model":'
        )  # … and never the rest
        reply = stalled.recv(65536)
    assert b" 408 " in reply.split(b"\r\n", 1)[0]
    assert (
        call(server, "GET", "/v1/models", key="sk-serve")[0] == 200
    )  # the others are served meanwhile


# -- plugins: a failure is contained and reported -------------------------------------------------


class Broken:
    """Plugins that fail in every way a plugin can."""

    @hookimpl
    def register_corpus_parsers(self, register):
        class Exploding:
            name, description, options = "exploding", "raises", ()

            def sniff(self, source):
                return float("nan")  # would win every file if NaN were compared as a confidence

            def parse(self, source, options):
                raise SystemExit("a plugin calling sys.exit")

        class Lying:
            name, description, options = "lying", "returns garbage", ()

            def sniff(self, source):
                return 0.0

            def parse(self, source, options):
                return None

        register(Exploding())
        register(Lying())
        register(object())  # not a parser at all

    @hookimpl
    def register_augmenters(self, register):
        raise RuntimeError("augmenter registration blew up")


class Secretive:
    """An augmenter with a secret option (an API key of its own)."""

    @hookimpl
    def register_augmenters(self, register):
        from studio.api import AugmentItem, Sample, Turn

        class Echo:
            name, description, needs_llm = "secretive", "uses a token", False
            options = (StrOption("token", "", "an API token", secret=True),)

            def plan(self, context, options):
                return [AugmentItem(f"k{i}", {"i": i}) for i in range(2)]

            def run(self, context, options, item):
                assert options["token"] == "tok-SECRET-42"
                return [
                    Sample(
                        f"s{item.key}",
                        context.character,
                        context.persona,
                        [
                            Turn("user", f"第{item.data['i']}个问题？"),
                            Turn("assistant", f"第{item.data['i']}个回答，说来话长。"),
                        ],
                        provenance={"kind": "augment", "options": dict(options)},
                    )
                ]

            def propose(self, context, options):
                for item in self.plan(context, options):
                    yield from self.run(context, options, item)

        register(Echo())


def test_broken_plugins_are_contained(zh_workspace, tmp_path):
    import warnings

    from studio.corpus.inspect import parse_file

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        host = load_host(extra=[("broken", Broken())])
    assert any("augmenter registration blew up" in p for p in host.problems)
    assert any("without" in p for p in host.problems)
    script = zh_workspace / "corpus" / "script.txt"
    assert parse_file(script, host.parsers).parser == "screenplay"  # the NaN sniff did not win
    for name, message in (("exploding", "SystemExit"), ("lying", "returned NoneType")):
        with pytest.raises(InputError, match=message) as caught:
            parse_file(script, host.parsers, parser=name)
        assert str(script) in str(caught.value)


def test_a_secret_option_is_never_written(zh_workspace):
    from studio.augment import run_augment

    host = load_host(extra=[("secretive", Secretive())])
    ws = Workspace(zh_workspace)
    build_dataset(ws, host.parsers)
    report = run_augment(
        ws, "secretive", {"token": "tok-SECRET-42"}, host=host, persona_scorer=None
    )
    assert report.kept == 2
    for path in zh_workspace.rglob("*"):
        if path.is_file():
            assert b"tok-SECRET-42" not in path.read_bytes(), path


def test_serve_answers_50_clients_connecting_at_once(served):
    import threading

    server, _ = served
    body = json.dumps(
        {
            "model": "r1",
            "stream": True,
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "hi"}],
        }
    ).encode()
    outcomes: list[str] = []

    def client() -> None:
        try:
            with socket.create_connection(server.server_address[:2], timeout=60) as conn:
                conn.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                    b"Authorization: Bearer sk-serve\r\n"
                    b"Content-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                reply = b""
                while chunk := conn.recv(65536):
                    reply += chunk
            outcomes.append(
                "ok"
                if reply.startswith(b"HTTP/1.1 200") and b"data: [DONE]" in reply
                else "bad reply"
            )
        except OSError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ok"] * 50


def test_serve_queues_50_connections_while_it_is_busy(persona_run, host):
    from studio.chat.persona import load_persona
    from studio.serve.server import PersonaServer

    persona = load_persona(
        Workspace(persona_run.parents[1]), host.adapters, device=torch.device("cpu")
    )
    server = PersonaServer(
        ("127.0.0.1", 0), persona, log=None
    )  # listening, but busy: nothing accepted yet
    connected = 0
    sockets = []
    try:
        for _ in range(50):
            try:
                sockets.append(socket.create_connection(server.server_address[:2], timeout=1))
                connected += 1
            except OSError:
                pass
    finally:
        for conn in sockets:
            conn.close()
        server.server_close()
    assert connected == 50  # a backlog of 5 (the default) reset most of them under load


def test_a_plugin_with_a_misspelled_hook_is_unloaded_not_fatal():
    import pluggy

    from studio import hookspecs
    from studio.plugins import PluginInfo, PluginWarning, _drop_unknown_hooks

    class Misspelled:
        @hookimpl
        def register_parser(self, register):  # not a hook of the studio
            register(object())

    class Fine:
        @hookimpl
        def register_augmenters(self, register):
            pass

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(Misspelled(), name="misspelled")
    pm.register(Fine(), name="fine")
    infos = {"misspelled": PluginInfo("misspelled"), "fine": PluginInfo("fine")}
    with pytest.warns(PluginWarning, match="misspelled"):
        _drop_unknown_hooks(pm, infos)
    assert [name for name, _ in pm.list_name_plugin()] == ["fine"]
    assert "register_parser" in infos["misspelled"].error
