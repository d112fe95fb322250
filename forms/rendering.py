"""Text renderings of the programme's XLSForms.

The forms are authored as .xlsx workbooks, which is what form designers and
pyxform use, but a binary workbook cannot be reviewed in a diff. So every
forms/xlsforms/*.xlsx has a .md beside it: the same survey, choices, settings and
entities sheets written as a pyxform markdown-table XLSForm (one line per row, cells
stripped, `|` escaped as `\\|`, empty rows dropped, columns in the sheet's order),
which pyxform can also compile with ``convert(xlsform=md, file_type=".md")``.
A change to a form is therefore reviewed in the .md; ``--check`` (run by the
tests) fails when a rendering is stale, and ``--write`` refreshes them all. The
reverse, ``build_xlsx``, makes a workbook from a rendering; rendering that
workbook gives back the same text.
"""

import argparse
import re
import sys
from pathlib import Path

import openpyxl

XLSFORMS_DIR = Path(__file__).resolve().parent / "xlsforms"
SHEETS = ("survey", "choices", "settings", "entities")
UNRENDERED_SHEETS = {"external_choices", "osm"}  # pyxform reads these
_COMMENT, _INLINE_COMMENT = re.compile(r"^\s*#"), re.compile(r"^(.*)(#[^|]+)$")
_ROW = re.compile(r"\s*\|(.*)\|\s*")
_SEPARATOR = re.compile(r"^[|-]+$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _cell_text(value) -> str:
    """A cell as pyxform reads it (see xls2json_backends.xlsx_value_to_str)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).replace("\xa0", " ").strip()
    if "\n" in text or "\r" in text:
        raise ValueError(
            f"line break in cell {text!r}: a rendering holds one line per row"
        )
    return text


def _line(cells) -> str:
    """A table row: `| a | b |`, an empty cell as `| |`, `|` in a cell as `\\|`."""
    escaped = (" " + c.replace("|", "\\|") + " " if c else " " for c in cells)
    return "|" + "|".join(escaped) + "|"


def render_markdown(xlsx_path) -> str:
    """Render the survey, choices, settings and entities sheets of a workbook as markdown."""
    wb = openpyxl.load_workbook(xlsx_path, read_only=True, data_only=True)
    try:
        sheets = {ws.title.lower(): ws for ws in wb.worksheets}
        unrendered = UNRENDERED_SHEETS & sheets.keys()
        if unrendered:
            raise ValueError(f"{xlsx_path}: sheets not rendered: {sorted(unrendered)}")
        blocks = []
        for name in SHEETS:
            if name not in sheets:
                continue
            rows = [
                [_cell_text(v) for v in row]
                for row in sheets[name].iter_rows(values_only=True)
            ]
            if not rows:
                continue
            header = [" ".join(h.split()) for h in rows[0]]
            keep = [i for i, h in enumerate(header) if h]
            lines = [f"| {name} |", _line([""] + [header[i] for i in keep])]
            for row in rows[1:]:
                cells = [row[i] if i < len(row) else "" for i in keep]
                if any(cells):
                    lines.append(_line([""] + cells))
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)
    finally:
        wb.close()


def _parse_markdown(md_text: str) -> dict[str, list[list[str | None]]]:
    """Sheets of a markdown XLSForm, with pyxform's grammar (md_to_dict)."""
    sheets: dict[str, list[list[str | None]]] = {}
    current = None
    for line in md_text.split("\n"):
        if _COMMENT.match(line):
            continue
        if _INLINE_COMMENT.match(line):
            line = _INLINE_COMMENT.match(line).group(1)
        match = _ROW.match(line)
        if not match or _SEPARATOR.match(match.group(1)):
            continue
        first, *cells = [
            c.strip().replace(r"\|", "|") or None
            for c in _UNESCAPED_PIPE.split(match.group(1))
        ]
        if first is not None:
            current = sheets[first] = []
        if current is not None and any(c is not None for c in cells):
            current.append(cells)
    return sheets


def build_xlsx(md_text: str, xlsx_path) -> None:
    """Write the workbook that a markdown XLSForm describes (all cells as text)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in _parse_markdown(md_text).items():
        ws = wb.create_sheet(title=name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    cell = ws.cell(row=r, column=c, value=value)
                    cell.data_type = "s"  # never a formula, even if it starts with "="
    wb.save(xlsx_path)


def _workbooks(directory) -> list[Path]:
    """The forms in a directory, without Excel's lock files (~$name.xlsx)."""
    return [
        p for p in sorted(Path(directory).glob("*.xlsx")) if not p.name.startswith("~$")
    ]


def stale_renderings(directory=XLSFORMS_DIR) -> list[Path]:
    """The .md files that are missing or differ from their workbook's rendering."""
    stale = []
    for xlsx in _workbooks(directory):
        md = xlsx.with_suffix(".md")
        if not md.exists() or md.read_text(encoding="utf-8") != render_markdown(xlsx):
            stale.append(md)
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m forms.rendering", description=__doc__.split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--check", action="store_true", help="exit 1 if a rendering is stale"
    )
    mode.add_argument("--write", action="store_true", help="re-render every workbook")
    args = parser.parse_args(argv)
    if args.write:
        for xlsx in _workbooks(XLSFORMS_DIR):
            xlsx.with_suffix(".md").write_text(render_markdown(xlsx), encoding="utf-8")
            print(f"wrote {xlsx.with_suffix('.md')}")
        return 0
    stale = stale_renderings()
    for md in stale:
        print(f"stale: {md} (run: python -m forms.rendering --write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
