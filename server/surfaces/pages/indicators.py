"""`/indicators`: the programme's indicators for a year, by governorate, district, forum or month,
as tables and server-drawn charts in the reader's language; each figure links to the
submissions behind it; the same tables as an Excel workbook. Within the reader's places, small
sensitive counts withheld (`server.services.indicators`)."""

from __future__ import annotations

import io
from datetime import date

from flask import current_app, g, render_template, request, send_file, url_for

from server.database import per_request
from server.kernel import i18n, problems
from server.kernel.i18n import _
from server.kernel.problems import Problem
from server.services import indicators
from server.services.indicators import DIMENSIONS, catalogue, presenting, workbook
from server.surfaces.pages import bp, require

BY = {"governorate": ("governorate",), "district": ("governorate", "district"),
      "forum": ("governorate", "district", "forum"), "month": ("month",)}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BEHIND_PAGE = 50


def _options() -> tuple[int, str]:
    year = request.args.get("year", "").strip() or str(date.today().year)
    if not year.isdigit() or not 2000 <= int(year) <= 2100:
        raise Problem(problems.INDICATOR_OPTION_INVALID, option="year", reason="a year, 2000-2100")
    by = request.args.get("by", "governorate")
    if by not in BY:
        raise Problem(problems.INDICATOR_OPTION_INVALID, option="by",
                      reason=f"one of {', '.join(BY)}")
    return int(year), by


def _tables(year: int, by: str) -> list[presenting.Table]:
    session = per_request.session()
    results = indicators.compute(session, g.user, indicators.Period.year(year), BY[by])
    language = i18n.current()
    labels = presenting.Labels(session, g.user, current_app.extensions["blobs"], language.code)
    return presenting.present(results, labels, rtl=language.direction == "rtl",
                              number=i18n.number_text, total=_("Total"))


@bp.get("/indicators")
@require("submissions.read")
def indicators_page():
    year, by = _options()
    return render_template("indicators.html", tables=_tables(year, by), year=year, by=by,
                           choices=BY, this_year=date.today().year)


@bp.get("/indicators.xlsx")
@require("submissions.read")
def indicators_workbook():
    year, by = _options()
    language = i18n.current()
    file = io.BytesIO()  # a few small sheets: made in memory, never on disk
    workbook.write(_tables(year, by), file, rtl=language.direction == "rtl", about=[
        (_("Indicators"), str(year)), (_("By"), _(by)), (_("Made for"), g.user.username),
        (_("Definitions"), "server/services/indicators/programme.toml")])
    file.seek(0)
    return send_file(file, mimetype=XLSX, as_attachment=True, max_age=0,
                     download_name=f"indicators-{year}-{by}.xlsx")


@bp.get("/indicators/<indicator_id>/submissions")
@require("submissions.read")
def indicator_submissions(indicator_id: str):
    indicator = catalogue.by_id(indicator_id)
    if indicator is None:
        raise Problem(problems.INDICATOR_NOT_FOUND, indicator=indicator_id)
    year, _by = _options()
    group = {d: request.args[d] for d in DIMENSIONS if request.args.get(d)}
    split = request.args.get("split") or None
    after = request.args.get("after", "0")
    form_id, rows = indicators.behind(
        per_request.session(), g.user, indicator, indicators.Period.year(year), group, split,
        after=int(after) if after.isdigit() else 0, limit=BEHIND_PAGE + 1)
    more = len(rows) > BEHIND_PAGE
    rows = rows[:BEHIND_PAGE]
    args = {k: v for k, v in request.args.items() if k != "after"}
    following = url_for("pages.indicator_submissions", indicator_id=indicator_id, **args,
                        after=rows[-1]["_submission_id"]) if more else None
    return render_template("indicator_submissions.html", indicator=indicator, rows=rows,
                           form_id=form_id, year=year, group=group, split=split,
                           following=following,
                           title=indicator.title_in(i18n.current().code))
