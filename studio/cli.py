"""Provides the ``persona-studio`` command: the TUI on a workspace, and headless subcommands.

    persona-studio WORKSPACE                 open the TUI (asks to create WORKSPACE when missing)
    persona-studio plugins                   list plugins and what they register
    persona-studio parse FILE [--jsonl]      parse one corpus file
    persona-studio roster FILE... [--json]   speakers with line counts after alias merging
    persona-studio build WORKSPACE           build the character's dataset
    persona-studio export-data WORKSPACE     export it (alpaca, sharegpt, messages, xtuner, datasets)
    persona-studio review WORKSPACE          review counts; accept / reject / edit / undo headlessly
    persona-studio augment WORKSPACE [NAME]  propose more samples with a strategy (resumable)
    persona-studio train WORKSPACE           start a LoRA run (--detach to return at once)
    persona-studio runs WORKSPACE            list runs and their state
    persona-studio chat WORKSPACE            chat with the latest run's adapter
    persona-studio serve WORKSPACE           OpenAI-compatible API on 127.0.0.1
    persona-studio eval WORKSPACE            base vs adapter on held-out scenes (report in the run)
    persona-studio export WORKSPACE          adapter + merged model + model card in exports/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio import __version__, settings
from studio.errors import StudioError


def _host() -> Any:
    from studio.plugins import load_host

    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        host = load_host()
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return host


def _workspace(path: str, *, lock: bool = False) -> Any:
    from studio.workspace import Workspace

    ws = Workspace(path)
    if lock:
        ws.lock()
    return ws


# -- plugins ---------------------------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace) -> int:
    host = _host()
    if args.json:
        print(json.dumps([info.__dict__ for info in host.infos.values()], ensure_ascii=False, indent=2))
        return 0
    for info in sorted(host.infos.values(), key=lambda i: i.name):
        state = "blocked" if info.blocked else ("error" if info.error else "ok")
        dist = f"{info.distribution} {info.version}".strip() or "-"
        print(f"{info.name:<12} {state:<7} {dist:<22} {info.module}")
        for item in info.registered:
            kind, name = item.split(":", 1)
            obj = {"parser": host.parsers, "augmenter": host.augmenters, "model adapter": host.adapters}[kind].get(name)
            print(f"    {kind:<14} {name:<14} {getattr(obj, 'description', '')}")
        if info.error:
            print(f"    error: {info.error}")
    return 0


# -- corpus ----------------------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace) -> int:
    from studio.corpus.inspect import parse_file

    host = _host()
    options = dict(_kv(args.opt))
    status = 0
    for file in args.files:
        try:
            result = parse_file(file, host.parsers, parser=args.parser, encoding=args.encoding, options=options)
        except StudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        src = result.source
        newline = {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}[src.newline]
        dialogue = sum(1 for u in result.utterances if u.kind == "dialogue")
        unassigned = sum(1 for u in result.utterances if u.kind == "dialogue" and not u.speaker)
        scenes = len({u.scene for u in result.utterances})
        how = "forced" if args.parser else "sniffed"
        print(f"{file}: parser {result.parser} ({how}), encoding {src.encoding}, {newline}, "
              f"{len(result.utterances)} utterances ({dialogue} dialogue, {unassigned} without speaker), "
              f"{scenes} scenes, {len(result.warnings)} warnings", file=sys.stderr)
        for warning in result.warnings[: args.max_warnings]:
            print(f"  warning: {warning}", file=sys.stderr)
        if len(result.warnings) > args.max_warnings:
            print(f"  … {len(result.warnings) - args.max_warnings} more warnings", file=sys.stderr)
        out = sys.stdout
        for utt in result.utterances:
            if args.jsonl:
                out.write(json.dumps(utt.to_json(), ensure_ascii=False) + "\n")
            else:
                who = utt.speaker or f"({utt.kind})"
                out.write(f"{utt.line:>6} {who}: {utt.text}\n")
    return status


def cmd_roster(args: argparse.Namespace) -> int:
    from studio.corpus.inspect import alias_suggestions, build_roster, parse_file, parse_workspace, unassigned_lines

    host = _host()
    aliases: dict[str, list[str]] = {}
    ignore: list[str] = []
    utterances = []
    warnings = 0
    for item in args.paths:
        path = Path(item)
        if path.is_dir() and (path / "studio.toml").exists():
            ws = _workspace(item)
            aliases.update(ws.config.aliases())
            ignore += ws.config.roster.ignore
            report = parse_workspace(ws, host.parsers)
            for error in report.errors:
                print(f"error: {error}", file=sys.stderr)
            utterances += report.utterances
            warnings += sum(len(r.warnings) for r in report.results)
        else:
            try:
                result = parse_file(item, host.parsers, parser=args.parser, options=dict(_kv(args.opt)))
            except StudioError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            utterances += result.utterances
            warnings += len(result.warnings)
    for alias in args.alias:
        if "=" not in alias:
            print(f"error: --alias {alias!r}: expected CANONICAL=ALIAS[,ALIAS]", file=sys.stderr)
            return 2
        canonical, others = alias.split("=", 1)
        aliases.setdefault(canonical, []).extend(o for o in others.split(",") if o)
    roster = build_roster(utterances, aliases, ignore)
    unassigned = unassigned_lines(utterances)
    suggestions = [] if args.no_suggest else alias_suggestions(roster)
    if args.json:
        print(json.dumps({"speakers": [r.__dict__ for r in roster[: args.top]], "total_speakers": len(roster),
                          "dialogue_lines": sum(r.lines for r in roster), "unassigned_lines": unassigned,
                          "warnings": warnings, "suggestions": [s.__dict__ for s in suggestions]},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"{len(roster)} speakers, {sum(r.lines for r in roster)} dialogue lines "
          f"(+{unassigned} without speaker), {warnings} parse warnings")
    for entry in roster[: args.top]:
        merged = ", ".join(f"{k} {v}" for k, v in entry.aliases.items() if k != entry.name)
        print(f"{entry.lines:>7}  {entry.name}" + (f"   (merged: {merged})" if merged else ""))
    if suggestions:
        print("\nsuggestions to confirm (studio.toml [roster] aliases / ignore, [character] narrator):")
        for item in suggestions[:15]:
            if item.reason == "group":
                print(f"  {item.alias}: said together by {item.canonical.replace('+', ', ')} (ignore it?)")
            elif item.reason == "narrator":
                print(f"  {item.alias}: the first-person narrator (set [character] narrator = true?)")
            else:
                print(f"  {item.alias} → {item.canonical}   ({item.reason})")
    return 0


# -- dataset ---------------------------------------------------------------------------------


# -- augmentation ----------------------------------------------------------------------------


def cmd_augment(args: argparse.Namespace) -> int:
    from studio.augment.command import cmd_augment as run

    return run(args, _host(), _workspace(args.workspace))


# -- training --------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from studio.settings import parse_assignments
    from studio.train.runner import start

    ws = _workspace(args.workspace)
    overrides: dict[str, Any] = {}
    host = None
    if not args.resume:
        host = _host()
        for key in ("max_steps", "epochs", "overlong", "attention", "parallel"):
            if getattr(args, key, None):
                overrides[key] = getattr(args, key)
        if args.compile:
            overrides["compile"] = True
        try:
            overrides.update(parse_assignments(args.set))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    started = start(ws, host.adapters if host else {}, run_id=args.run or "", overrides=overrides,
                    resume=args.resume, gpus=args.gpus)
    run = started.run
    if started.resumed is not None:
        state = started.resumed
        print(f"resuming {run.name} ({state.status} at step {state.step}/{state.total_steps})")
    else:
        print(f"run {run.name}: {run.path}")
    if args.detach:
        print(f"started in the background (pid {started.process.pid}); follow with: "
              f"persona-studio runs {ws.root} --follow {run.name}; stop with: persona-studio stop {ws.root} --run {run.name}")
        return 0
    return _follow_foreground(run, started.process, started.offset)


def _follow_foreground(run: Any, process: Any, start: int = 0) -> int:
    """Print the run's events until it ends; Ctrl-C asks it to stop (it checkpoints first)."""
    from studio.train.runner import stop

    last = None
    stopping = False
    while True:
        try:
            for batch in run.follow(alive=lambda: process.poll() is None, start=start):
                for event in batch:
                    _print_event(event)
                    last = event
            break
        except KeyboardInterrupt:
            if stopping:
                print("already stopping; waiting for the checkpoint", file=sys.stderr)
                continue
            stopping = True
            print("stopping: saving a checkpoint…", file=sys.stderr)
            stop(run.path)
    code = process.wait()
    if last is None or not last.terminal:
        print(f"the run process ended (exit {code}) without a final event; see {run.log_file} "
              "and continue with --resume", file=sys.stderr)
        return code or 1
    return 0 if last.kind in ("finished", "stopped") else 1


def _print_event(event: Any) -> None:
    failed = event.kind in ("failed", "rank_failed", "warning")
    print(event.describe(), file=sys.stderr if failed else sys.stdout, flush=True)


def cmd_runs(args: argparse.Namespace) -> int:
    from studio.train.rundir import RunDir, list_runs

    ws = _workspace(args.workspace)
    if args.follow:
        run = RunDir(ws.run_dir(args.follow))
        if not run.exists():
            print(f"error: no run {args.follow!r} in {ws.runs_dir}", file=sys.stderr)
            return 2
        for batch in run.follow(alive=run.is_alive):
            for event in batch:
                _print_event(event)
        state = run.state()
        if state.status == "crashed":
            print(f"{run.name} crashed at step {state.step} (no final event); continue with: "
                  f"persona-studio train {ws.root} --run {run.name} --resume", file=sys.stderr)
        return 0
    runs = list_runs(ws)
    if not runs:
        print("no runs yet")
        return 0
    print(f"{'run':<28} {'status':<9} {'step':>11} {'loss':>8} {'eval':>8} {'tok/s':>8}  last checkpoint")
    for run in runs:
        state = run.state()
        loss = f"{state.loss:.4f}" if state.loss is not None else "-"
        evl = f"{state.eval_loss:.4f}" if state.eval_loss is not None else "-"
        rate = f"{state.tokens_per_s:.0f}" if state.tokens_per_s is not None else "-"
        last = f"step {state.checkpoints[-1]}" if state.checkpoints else "-"
        print(f"{run.name:<28} {state.status:<9} {state.step:>5}/{state.total_steps:<5} {loss:>8} {evl:>8} "
              f"{rate:>8}  {last}")
        if state.status == "failed" and state.error:
            print(f"{'':<28} {state.error[:110]}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from studio.train.rundir import latest_run
    from studio.train.runner import stop

    ws = _workspace(args.workspace)
    latest = latest_run(ws)
    run_dir = ws.run_dir(args.run) if args.run else latest.path if latest else None
    if run_dir is None:
        print("no run to stop", file=sys.stderr)
        return 2
    if stop(run_dir):
        print(f"stop requested: {run_dir.name} saves a checkpoint, then ends (continue with --resume)")
        return 0
    print(f"{run_dir.name} is not running")
    return 1


# -- chat ------------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace) -> int:
    from studio.chat.session import SAMPLING_PRESETS, load_persona

    ws = _workspace(args.workspace)
    host = _host()
    persona = load_persona(ws, host.adapters, run=args.run, checkpoint=args.checkpoint, base=args.base,
                           merge=args.merge, fast=args.fast)
    if persona.adapter_dir is not None:
        print(f"adapter: {persona.adapter_dir.relative_to(ws.root)}", file=sys.stderr)
    for note in persona.notes:
        print(f"note: {note}", file=sys.stderr)
    session = persona.session(sampling=dict(SAMPLING_PRESETS[args.sampling]), max_new_tokens=args.max_new_tokens,
                              seed=args.seed)
    from studio.chat.repl import chat_repl, print_turn

    if args.prompt is not None:
        print_turn(session, args.prompt, show_stats=args.stats)
        return 0
    return chat_repl(ws, persona, session, show_stats=args.stats)


# -- workspace -------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from studio.workspace import create_workspace

    ws = create_workspace(args.workspace, character=args.character or "")
    print(f"created {ws.root}; put corpus files in {ws.corpus_dir} and edit {ws.config_path}")
    return 0


def cmd_tui(path: str, *, yes: bool = False) -> int:
    from studio.workspace import create_workspace

    target = Path(path)
    if not (target / "studio.toml").exists():
        if target.exists() and any(target.iterdir()):
            print(f"error: {target} has no studio.toml; expected a workspace folder", file=sys.stderr)
            return 2
        if not yes:
            if not sys.stdin.isatty():
                print(f"error: {target} is not a workspace; create it with: persona-studio init {target}", file=sys.stderr)
                return 2
            answer = input(f"{target} does not exist. Create a new workspace there? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                return 1
        create_workspace(target)
    from studio.tui.app import StudioApp

    ws = _workspace(path)
    ws.lock(read_only_ok=True)
    app = StudioApp(ws)
    app.run()
    ws.unlock()
    return 0


# -- entry point -----------------------------------------------------------------------------


def _kv(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        if "=" not in item:
            raise StudioError(f"--opt {item!r}: expected NAME=VALUE")
        key, value = item.split("=", 1)
        pairs.append((key, value))
    return pairs


def _lazy(module: str, name: str) -> Any:
    """A subcommand handler that imports ``module`` only when the subcommand runs (fast start-up)."""

    def handler(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), name)(args) or 0)

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="persona-studio", description="Turn a novel, script or subtitles into a character chat model.")
    parser.add_argument("--version", action="version", version=f"persona-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list plugins and what they register")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("init", help="create a new workspace folder")
    p.add_argument("workspace")
    p.add_argument("--character", default="")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("parse", help="parse corpus files into utterances")
    p.add_argument("files", nargs="+")
    p.add_argument("--parser", default="", help="force a parser (default: the best by sniffing)")
    p.add_argument("--encoding", default="", help="force an encoding (default: detect)")
    p.add_argument("--jsonl", action="store_true", help="one JSON utterance per line")
    p.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE", help="parser option")
    p.add_argument("--max-warnings", type=int, default=20)
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("roster", help="speakers with line counts after alias merging")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_WORKSPACE")
    p.add_argument("--parser", default="")
    p.add_argument("--alias", action="append", default=[], metavar="CANONICAL=ALIAS[,ALIAS]")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-suggest", action="store_true")
    p.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE", help="parser option (files only)")
    p.set_defaults(func=cmd_roster)

    from studio.dataset.commands import add_build_arguments, add_export_arguments, add_review_arguments

    p = sub.add_parser("build", help="build the character's dataset")
    add_build_arguments(p)
    p.set_defaults(func=_lazy("studio.dataset.commands", "run_build"))

    p = sub.add_parser("export-data", help="export the dataset (alpaca, sharegpt, messages, xtuner, datasets)")
    add_export_arguments(p)
    p.set_defaults(func=_lazy("studio.dataset.commands", "run_export"))

    p = sub.add_parser("review", help="review counts, list, accept/reject/edit/undo samples headlessly")
    add_review_arguments(p)
    p.set_defaults(func=_lazy("studio.dataset.commands", "run_review"))

    p = sub.add_parser("augment", help="propose more samples with a strategy (pending review); resumable")
    from studio.augment.command import add_arguments as add_augment_arguments

    add_augment_arguments(p)
    p.set_defaults(func=cmd_augment)

    p = sub.add_parser("train", help="start a LoRA training run")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run name (default: timestamp)")
    p.add_argument("--resume", action="store_true", help="continue --run (default: the latest) from its last checkpoint")
    p.add_argument("--detach", action="store_true", help="return at once; the run keeps going")
    p.add_argument("--gpus", type=int, default=1,
                   help="processes through torchrun, one per GPU (gloo processes on a CPU-only machine)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)")
    p.add_argument("--epochs", type=float, default=0, help="passes over the data (default: studio.toml)")
    p.add_argument("--overlong", choices=settings.OVERLONG, default="",
                   help="samples over max_length: drop them, or split long conversations (default: drop)")
    p.add_argument("--attention", choices=settings.KERNELS, default="",
                   help="packed attention kernel (default: auto)")
    p.add_argument("--parallel", choices=settings.PARALLEL, default="",
                   help="with --gpus: ddp (default) or fsdp (shard a model too big for one GPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the decoder layers (GPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a training setting for this run, over studio.toml and the preset (repeatable; "
                        f"keys: {', '.join(settings.SETTINGS)}; see docs/settings.md)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("runs", help="list runs, or follow one")
    p.add_argument("workspace")
    p.add_argument("--follow", default="", metavar="RUN")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("stop", help="stop a run (it saves a checkpoint first)")
    p.add_argument("workspace")
    p.add_argument("--run", default="")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("chat", help="chat with the character (REPL, or one reply with --prompt)")
    p.add_argument("workspace")
    p.add_argument("--run", default="")
    p.add_argument("--checkpoint", type=int, default=None, help="a checkpoint step (-1: latest) instead of the final adapter")
    p.add_argument("--base", action="store_true", help="the base model without an adapter")
    p.add_argument("--prompt", default=None)
    p.add_argument("--sampling", default="balanced", choices=("greedy", "balanced", "creative"))
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--merge", action="store_true", help="fold the adapter into the weights (faster; no /base switch)")
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=None,
                   help="static KV cache + compiled decoding (default: on for CUDA)")
    p.add_argument("--stats", action="store_true", help="print tokens, time to first token and tokens/s per reply")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="an OpenAI-compatible API (/v1/chat/completions) for the character")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run id (default: the newest)")
    p.add_argument("--checkpoint", type=int, default=None, help="a checkpoint step (-1: latest) instead of the final adapter")
    p.add_argument("--base", action="store_true", help="serve the base model without an adapter")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default="", help="require this bearer key (default: $PERSONA_STUDIO_API_KEY, or none)")
    p.add_argument("--model-name", default="", help="the model id clients use (default: the run id)")
    p.add_argument("--max-tokens-cap", type=int, default=2048, help="the largest max_tokens a request may ask for")
    p.add_argument("--merge", action="store_true", help="fold the adapter into the weights (no <id>:base model)")
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=None,
                   help="static KV cache + compiled decoding (default: on for CUDA)")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(func=_lazy("studio.serve.server", "run_cli"))

    p = sub.add_parser("eval", help="base vs adapter on the held-out scenes: did the fine-tune work?")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run id (default: the newest)")
    p.add_argument("--checkpoint", type=int, default=None, help="a checkpoint step (-1: latest) instead of the final adapter")
    p.add_argument("--limit", type=int, default=0, help="at most this many held-out items (default: all)")
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--sampling", default="greedy", choices=("greedy", "balanced", "creative"))
    p.add_argument("--examples", type=int, default=3, help="example items to print")
    p.set_defaults(func=_lazy("studio.eval.evaluate", "run_cli"))

    p = sub.add_parser("export", help="the adapter (peft), a merged model (--merged) and model cards in exports/")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run id (default: the newest)")
    p.add_argument("--checkpoint", type=int, default=None, help="a checkpoint step (-1: latest) instead of the final adapter")
    p.add_argument("--merged", action="store_true", help="also write the merged model (plain transformers loads it)")
    p.add_argument("--dtype", default="auto", choices=("auto", "bf16", "fp16", "fp32"), help="merged weights' precision")
    p.add_argument("--no-verify", action="store_true", help="skip reloading the merged model to check its logits")
    p.add_argument("--out", default="", help="export folder (default: exports/<run>)")
    p.set_defaults(func=_lazy("studio.export.exporter", "run_cli"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    try:
        if argv and argv[0] not in commands and not argv[0].startswith("-"):
            yes = "--yes" in argv or "-y" in argv
            return cmd_tui(argv[0], yes=yes)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        from studio.fsutil import DISK_FULL

        if exc.errno not in DISK_FULL:
            raise
        print(f"error: {exc.filename or 'a file'}: {exc.strerror}; nothing half-written was kept "
              "(free some space and run the command again)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
