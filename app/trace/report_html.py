"""The trace report as one self-contained HTML page (the chart inline as SVG, no external
resources: it opens on an air-gapped machine and prints as it shows)."""

from html import escape
from typing import Any

from app.trace.report import Report

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; margin: 2em; color: #222; }
h1 { font-size: 16pt; margin-bottom: 0; } h2 { font-size: 12pt; margin-top: 1.6em; }
h3 { font-size: 10.5pt; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top; }
td.amount, th.amount { text-align: right; font-variant-numeric: tabular-nums; }
.digest { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; word-break: break-all; }
.titleblock { border: 2px solid #222; padding: 0.6em 1em; }
.chart svg { max-width: 100%; height: auto; }
@media print { h2 { page-break-after: avoid; } .chart { page-break-before: always; } }
"""


def _e(value: Any) -> str:
    return escape("—" if value is None else str(value))


def _table(headers: list[str], rows: list[list[Any]], amounts: frozenset[int] = frozenset()) -> str:
    def cls(i: int) -> str:
        return ' class="amount"' if i in amounts else ""

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(pairs: list[tuple[str, str]], digests: frozenset[str] = frozenset()) -> str:
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td{' class=digest' if k in digests else ''}>{_e(v)}</td></tr>"
        for k, v in pairs
    )
    return f"<table>{rows}</table>"


def _paths(report: Report) -> str:
    out = []
    for holding in report.paths:
        out.append(
            f"<h3>{_e(holding['account'])} ({_e(holding['holder'])}): "
            f"{_e(holding['held'])} {_e(holding['currency'])}</h3>"
        )
        for path in holding["paths"]:
            rows = path["rows"]
            out.append(
                f"<p>Path {path['path']}: carried {_e(path['strength'])}, "
                f"{path['hops']} transaction(s)</p>"
                + _table(
                    ["Date", "Transaction", "From", "To", "Amount", "Traced"],
                    rows,
                    frozenset({4, 5}),
                )
            )
    return "".join(out) or "<p>No account holds traced value.</p>"


def _comparison(report: Report) -> str:
    comparison = report.comparison
    rules = comparison.get("rules", [])
    rows = [
        [r["account"], r["holder"], r["currency"], *(r["held"][x] for x in rules)]
        for r in comparison["rows"]
    ]
    table = (
        _table(
            ["Account", "Holder", "Currency", *(x.upper() for x in rules)],
            rows,
            frozenset(range(3, 3 + len(rules))),
        )
        if rows
        else ""
    )
    return f"{table}<p>{_e(comparison['note'])}</p>"


def render_html(report: Report, chart_svg: bytes) -> str:
    t = report.title
    svg = chart_svg.decode("utf-8")
    svg = svg[svg.index("<svg") :]  # the XML prolog and doctype are not allowed inside HTML
    documents = [
        [d["reference"], d["kind"], d["filename"], d["received_at"], d["transactions"], d["sha256"]]
        for d in report.documents
    ]
    summary = [[s["currency"], s["seeded"], s["held"], s["exited"]] for s in report.summary]
    holdings = [
        [h["account"], h["holder"], h["institution"], h["currency"], h["held"]]
        for h in report.holdings
    ]
    reference = t["case_reference"] or "no case"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Trace report {_e(t["trace_id"])} · {_e(reference)}</title><style>{STYLE}</style></head>
<body>
<div class="titleblock"><h1>Tracing report</h1>
<p>Case {_e(reference)}{(" — " + _e(t["case_title"])) if t["case_title"] else ""}<br>
Trace <span class="digest">{_e(t["trace_id"])}</span><br>Generated {_e(t["generated_at"])}</p>
</div>
<h2>1. The question</h2>{_pairs(report.question)}
<h2>2. The rule and what it means in law</h2>
<p><strong>{_e(report.rule["rule"].upper())}.</strong> {_e(report.rule["law"])}</p>
<p><strong>Same-day policy {_e(report.rule["same_day_policy"])}.</strong>
{_e(report.rule["same_day"])}</p>
<h2>3. The evidence used</h2>
{_pairs(report.evidence, frozenset({"Ledger fingerprint", "Result SHA-256"}))}
<h3>Source documents of the transactions followed</h3>
{_table(["Reference", "Kind", "File", "Received", "Transactions", "SHA-256"], documents)}
<h2>4. What was found</h2>
{_table(["Currency", "Traced in", "Held", "Exited"], summary, frozenset({1, 2, 3}))}
{_pairs(report.counts)}
<h3>Holdings: where the traced value is now</h3>
{_table(["Account", "Holder", "Institution", "Currency", "Held"], holdings, frozenset({4}))}
<h2>5. The strongest paths to the main holdings</h2>{_paths(report)}
<h2>6. The rules side by side</h2>
<p>What each attribution rule finds held at the main holdings. The court chooses the rule;
this shows what each choice means.</p>{_comparison(report)}
<h2>7. The chart</h2><div class="chart">{svg}</div>
</body></html>
"""
