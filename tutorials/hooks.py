"""mkdocs hooks for the tutorials (loaded through ``hooks:`` in mkdocs.yml).

1. Console prompts. Inside a fenced block, a line ``$ --8<-- "tutorials/examples/NAME.sh"``
   becomes ``$ simdist …``: the command of that example, so a page shows exactly the
   command the tests run. (pymdownx.snippets only includes a file on a line of its
   own, so it cannot put a prompt in front of it.) The example's ``#`` lines (exit
   status, setup) are for the tests and are not shown. A missing file fails the build.

2. Figures. The SVGs in the repository's ``figures/`` folder are served at
   ``figures/NAME.svg`` without being copied into ``tutorials/``, so the pictures on
   the site are always the ones ``figures/make_figures.py`` made.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

PROMPT = re.compile(r'^(?P<indent>[ \t]*)\$ --8<-- "(?P<path>[^"]+\.sh)"[ \t]*$', re.MULTILINE)


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def _command(root: Path, relative: str) -> str:
    path = root / relative
    if not path.is_file():
        raise PluginError(f"console example not found: {relative}")
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1:
        raise PluginError(f"{relative}: expected exactly one command line, found {len(lines)}")
    return lines[0]


def on_page_markdown(markdown: str, page, config, files) -> str:
    root = _root(config)
    return PROMPT.sub(lambda m: f"{m['indent']}$ {_command(root, m['path'])}", markdown)


def on_files(files: Files, config) -> Files:
    figures = _root(config) / "figures"
    for svg in sorted(figures.glob("*.svg")):
        files.append(File.generated(config, f"figures/{svg.name}", abs_src_path=str(svg)))
    return files
