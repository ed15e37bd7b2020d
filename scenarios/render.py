"""A tiny document model rendered to Markdown and to a self-contained HTML page (images inlined)."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;
line-height:1.45}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
th{background:#f0f0f0}td.n{text-align:right}img{max-width:100%}h1{font-size:1.6rem}h2{margin-top:2rem;
border-bottom:1px solid #ddd}.answer{background:#f5f9ff;border-left:4px solid #2171b5;padding:.5rem 1rem}"""


@dataclass
class Doc:
    """Blocks in order: ``(kind, payload)`` with kinds h1, h2, p, ul, table, img."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h1(self, text: str) -> None:
        self.blocks.append(("h1", text))

    def h2(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def ul(self, items: list[str]) -> None:
        if items:
            self.blocks.append(("ul", items))

    def table(self, headers: list[str], rows: list[list[Any]]) -> None:
        self.blocks.append(("table", (headers, rows)))

    def img(self, file: str, alt: str) -> None:
        self.blocks.append(("img", (file, alt)))

    def markdown(self) -> str:
        out: list[str] = []
        for kind, payload in self.blocks:
            if kind == "h1":
                out.append(f"# {payload}")
            elif kind == "h2":
                out.append(f"## {payload}")
            elif kind == "p":
                out.append(payload)
            elif kind == "ul":
                out.append("\n".join(f"- {item}" for item in payload))
            elif kind == "table":
                headers, rows = payload
                cells = [[str(c).replace("|", "\\|") for c in row] for row in rows]
                out.append("\n".join([f"| {' | '.join(headers)} |", f"|{'---|' * len(headers)}",
                                      *(f"| {' | '.join(row)} |" for row in cells)]))
            elif kind == "img":
                file, alt = payload
                out.append(f"![{alt}]({file})")
        return "\n\n".join(out) + "\n"

    def html(self, folder: Path, title: str) -> str:
        """One page; images are inlined so the file can be mailed on its own."""
        out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
               f"<style>{CSS}</style></head><body>"]
        for kind, payload in self.blocks:
            if kind in ("h1", "h2"):
                out.append(f"<{kind}>{_inline(payload)}</{kind}>")
            elif kind == "p":
                css = " class='answer'" if payload.startswith("**") else ""
                out.append(f"<p{css}>{_inline(payload)}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in payload) + "</ul>")
            elif kind == "table":
                headers, rows = payload
                head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
                body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif kind == "img":
                file, alt = payload
                data = base64.b64encode((folder / file).read_bytes()).decode()
                out.append(f"<p><img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'></p>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Escape, then the bits of Markdown the report uses: **bold**, *italic*, `code` and [text](link)."""
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", escaped)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"<a href='\2'>\1</a>", escaped)


def _cell(value: Any) -> str:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"<td class='n'>{value}</td>" if numeric else f"<td>{_inline(str(value))}</td>"
