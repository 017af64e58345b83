"""Provides ``docs/settings.md``: every studio.toml key, generated from the declarations.

python -m studio.settings_doc > docs/settings.md
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from studio import config
from studio.settings import SECTIONS, SETTINGS


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def reference() -> str:
    """``docs/settings.md``: every studio.toml key, generated from the declarations."""
    hints = typing.get_type_hints(config.StudioConfig)

    out = [
        "# studio.toml settings",
        "",
        "Every key of a workspace's `studio.toml`, generated from the declarations "
        "(`studio/settings.py` for `[train]`, `studio/config.py` for the rest) by "
        "`python -m studio.settings_doc > docs/settings.md`. Every key is optional.",
        "",
    ]
    for section in config._SECTIONS:
        kind = hints[section]
        out += [f"## [{section}]", ""]
        if section == "train":
            out += [
                "Which value a run gets: `train --set KEY=VALUE` or the new-run form, then",
                "a key you wrote here, then the model adapter's preset (`preset`, or the one",
                "that fits the GPU), then the default. A key you wrote wins over the preset",
                "even when it equals the default.",
                "",
                '- `preset` (default `""`): ' + " ".join(config.field_docs(kind)["preset"].split()),
            ]
            for group in SECTIONS:
                out += ["", f"### {group}", ""]
                for item in (s for s in SETTINGS.values() if s.section == group):
                    out.append(
                        f"- `{item.name}` (default `{_shown(item.default)}`; "
                        f"{item.expected()}): {item.doc}"
                    )
            out.append("")
            continue
        docs = config.field_docs(kind)
        defaults = kind()
        for key in dataclasses.fields(kind):
            choices = config._CHOICES.get((section, key.name))
            rule = f"; one of {', '.join(choices)}" if choices else ""
            doc = " ".join(docs.get(key.name, "").split())
            out.append(
                f"- `{key.name}` (default `{_shown(getattr(defaults, key.name))}`{rule}): {doc}"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(reference(), end="")
