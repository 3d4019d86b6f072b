"""The trace report as PDF (fpdf2: pure Python). The fonts are the DejaVu faces matplotlib
ships, embedded as subsets, so any holder's name prints and the text can be searched and
copied; nothing is fetched."""

from io import BytesIO
from pathlib import Path
from typing import Any

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.trace.report import Report

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
SANS, MONO = "DejaVuSans", "DejaVuMono"


class _Document(FPDF):
    def __init__(self, running_title: str) -> None:
        super().__init__(format="A4")
        self.running_title = running_title
        self.add_font(SANS, "", FONTS / "DejaVuSans.ttf")
        self.add_font(SANS, "B", FONTS / "DejaVuSans-Bold.ttf")
        self.add_font(MONO, "", FONTS / "DejaVuSansMono.ttf")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_creator("moneytrail")

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(SANS, "", 7)
        self.cell(0, 5, self.running_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(SANS, "", 8)
        self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")


def _heading(pdf: _Document, text: str, size: int = 12) -> None:
    pdf.ln(3)
    pdf.set_font(SANS, "B", size)
    pdf.multi_cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(SANS, "", 9)


def _para(pdf: _Document, text: str, *, font: str = SANS, size: int = 9) -> None:
    pdf.set_font(font, "", size)
    pdf.multi_cell(0, 4.6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(SANS, "", 9)


def _table(
    pdf: _Document,
    headers: list[str] | None,
    rows: list[list[Any]],
    widths: tuple[float, ...],
    *,
    right: frozenset[int] = frozenset(),
    size: float = 8,
) -> None:
    pdf.set_font(SANS, "", size)
    aligns = tuple("RIGHT" if i in right else "LEFT" for i in range(len(widths)))
    with pdf.table(
        col_widths=widths,
        text_align=aligns,
        line_height=size * 0.55,
        first_row_as_headings=headers is not None,
    ) as table:
        for values in [headers, *rows] if headers is not None else rows:
            row = table.row()
            for v in values:
                row.cell("—" if v is None else str(v))
    pdf.set_font(SANS, "", 9)


def _pairs(pdf: _Document, pairs: list[tuple[str, str]]) -> None:
    _table(pdf, None, [[k, v] for k, v in pairs], (45, 135))


def _title(pdf: _Document, report: Report) -> None:
    t = report.title
    pdf.set_font(SANS, "B", 18)
    pdf.cell(0, 12, "Tracing report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(SANS, "", 10)
    case = t["case_reference"] or "no case"
    if t["case_title"]:
        case += f" — {t['case_title']}"
    _pairs(pdf, [("Case", case), ("Trace", t["trace_id"]), ("Generated", t["generated_at"])])


def _found(pdf: _Document, report: Report) -> None:
    _heading(pdf, "4. What was found")
    _table(
        pdf,
        ["Currency", "Traced in", "Held", "Exited"],
        [[s["currency"], s["seeded"], s["held"], s["exited"]] for s in report.summary],
        (30, 50, 50, 50),
        right=frozenset({1, 2, 3}),
    )
    pdf.ln(2)
    _pairs(pdf, report.counts)
    _heading(pdf, "Holdings: where the traced value is now", 10)
    _table(
        pdf,
        ["Account", "Holder", "Institution", "Cur.", "Held"],
        [
            [h["account"], h["holder"], h["institution"], h["currency"], h["held"]]
            for h in report.holdings
        ],
        (62, 38, 34, 14, 32),
        right=frozenset({4}),
    )


def _paths(pdf: _Document, report: Report) -> None:
    _heading(pdf, "5. The strongest paths to the main holdings")
    if not report.paths:
        _para(pdf, "No account holds traced value.")
    for holding in report.paths:
        _heading(
            pdf,
            f"{holding['account']} ({holding['holder'] or '—'}): "
            f"{holding['held']} {holding['currency']}",
            9,
        )
        for path in holding["paths"]:
            _para(pdf, f"Path {path['path']}: carried {path['strength']}, {path['hops']} step(s)")
            rows = path["rows"]
            _table(
                pdf,
                ["Date", "Transaction", "From", "To", "Amount", "Traced"],
                rows,
                (20, 24, 46, 46, 22, 22),
                right=frozenset({4, 5}),
                size=7,
            )
            pdf.ln(1)


def _comparison(pdf: _Document, report: Report) -> None:
    _heading(pdf, "6. The rules side by side")
    _para(
        pdf,
        "What each attribution rule finds held at the main holdings. The court chooses the "
        "rule; this shows what each choice means.",
    )
    comparison = report.comparison
    rules = comparison.get("rules", [])
    if comparison["rows"]:
        _table(
            pdf,
            ["Account", "Holder", *(r.upper() for r in rules)],
            [
                [r["account"], r["holder"], *(r["held"][x] for x in rules)]
                for r in comparison["rows"]
            ],
            (50, 30, *([100 / max(len(rules), 1)] * len(rules))),
            right=frozenset(range(2, 2 + len(rules))),
        )
    _para(pdf, comparison["note"])


def render_pdf(report: Report, chart_png: bytes) -> bytes:
    reference = report.title["case_reference"] or "no case"
    pdf = _Document(f"Tracing report · {reference} · trace {report.title['trace_id']}")
    pdf.set_title(f"Tracing report {report.title['trace_id']}")
    pdf.add_page()
    _title(pdf, report)
    _heading(pdf, "1. The question")
    _pairs(pdf, report.question)
    _heading(pdf, "2. The rule and what it means in law")
    _para(pdf, f"{report.rule['rule'].upper()}. {report.rule['law']}")
    pdf.ln(1)
    _para(pdf, f"Same-day policy {report.rule['same_day_policy']}. {report.rule['same_day']}")
    _heading(pdf, "3. The evidence used")
    _pairs(pdf, report.evidence)
    _heading(pdf, "Source documents of the transactions followed", 10)
    for d in report.documents:
        _para(
            pdf,
            f"{d['reference']} ({d['kind']}{', ' + d['filename'] if d['filename'] else ''}), "
            f"received {d['received_at'].isoformat()}, {d['transactions']} transaction(s)",
        )
        _para(pdf, f"SHA-256 {d['sha256']}", font=MONO, size=8)
    _found(pdf, report)
    _paths(pdf, report)
    _comparison(pdf, report)
    pdf.add_page(orientation="L")
    _heading(pdf, "7. The chart")
    _para(pdf, report.chart_title)
    pdf.image(BytesIO(chart_png), w=pdf.epw, keep_aspect_ratio=True, h=pdf.eph - 25)
    return bytes(pdf.output())
