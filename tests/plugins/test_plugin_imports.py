"""Built-in plugins live on the plugin API alone: ``studio`` (hookimpl) and ``studio.api``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def test_plugins_import_only_studio_and_studio_api():
    offenders = []
    for path in sorted(PLUGINS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                if (
                    name.startswith("studio.")
                    and name != "studio.api"
                    and not name.startswith("studio.api.")
                ):
                    offenders.append(f"{path.relative_to(PLUGINS)}:{node.lineno} {name}")
    assert offenders == []


def test_the_plugin_api_imports_no_heavy_library():
    code = (
        "import sys, studio.api; print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'transformers', 'textual', 'peft', 'modelscope', 'huggingface_hub'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
