"""Provides the screenshot tour: every screen of the studio on a workspace, saved as SVG.

    python docs/screenshots/make_screenshots.py WORKSPACE OUT_DIR [--size 120x36] [--prompt TEXT]

Opens the studio headless (read-only, so a running studio is not disturbed), visits each screen
with the keys a user would press, runs the persona-qa strategy on the augment screen only when
``--augment`` is given (it writes proposals), and asks the chat a question when ``--prompt``
is given (the reply streams from the workspace's model).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


async def tour(workspace: Path, out: Path, size: tuple[int, int], prompt: str, augment: bool) -> list[Path]:
    from studio.plugins import load_host
    from studio.tui.app import StudioApp
    from studio.workspace import Workspace

    ws = Workspace(workspace)
    if augment:
        ws.lock()
    else:
        ws.read_only = True
    app = StudioApp(ws, host=load_host())
    saved: list[Path] = []
    async with app.run_test(size=size) as pilot:

        async def settle() -> None:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)

        async def shot(name: str) -> None:
            app.clear_notifications()
            await pilot.pause()
            path = out / f"{name}.svg"
            path.write_text(app.export_screenshot(title=f"persona-studio · {name}"), encoding="utf-8")
            saved.append(path)

        await settle()
        await shot("home")
        await pilot.press("2")
        await settle()
        await pilot.press("period", "period", "period")
        await shot("corpus")
        await pilot.press("w")
        await shot("corpus-warning")
        await pilot.press("3")
        await settle()
        await pilot.press("j", "j", "j")
        await shot("dataset")
        await pilot.press("4")
        await settle()
        if augment:
            await app.screen.show_strategy("persona-qa")
            await pilot.press("ctrl+r")
            await settle()
        await shot("augment")
        await pilot.press("5")
        await settle()
        await shot("train")
        await pilot.press("6")
        await settle()
        if prompt:
            app.screen.query_one("#chat-max").value = "24"
            await pilot.press(*prompt, "enter")
            await settle()
        await shot("chat")
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        await shot("help")
    ws.unlock()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("out")
    parser.add_argument("--size", default="120x36")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--augment", action="store_true")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(tour(Path(args.workspace), out, (width, height), args.prompt, args.augment)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
