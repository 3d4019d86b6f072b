"""goAML reports written outside the project, through `POST /api/v1/imports/goaml`.

Imports every `.xml` file of the samples folder (default: `../shared/goaml-samples` beside the
repository; none of them belongs in the repository) into a fresh server, once under the default
profile and once under a lenient one, and prints per file the status, what was stored and the
faults. Then it checks the bank CTR (`06_*`) against its own reading of the XML with lxml:
every distinct transaction's amount, date, currency and from/to account keys, asked of the
server one by one.

The lenient profile is the one an FIU receiving all of these would write: no list of report or
submission codes, the UAE's and Ghana's currency codes beside the others, and a direction for
the multi-party roles these files use (`B`, `-`, `PJS`: the only party pays; the other side is
then the report's cash/unknown counterpart). Its JSON is printed with the results.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.goaml_samples
    .venv/bin/python -m benchmarks.goaml_samples --samples /path/to/goaml-samples --db postgres
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from benchmarks import service

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLES = REPO.parent / "shared" / "goaml-samples"
BANK_CTR = "06_"
LK_XSD, LK_FILES = "lk_*.xsd", "_dfcc_"
LENIENT: dict[str, Any] = {
    "name": "lenient-samples",
    "report_codes": None,
    "submission_codes": None,
    "currency_codes": ["AED", "EUR", "GHC", "GHS", "LKR", "USD"],
    "party_roles": {"B": "from", "-": "from", "PJS": "from"},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    files = sorted(args.samples.glob("*.xml"))
    if not files:
        print(f"no .xml file in {args.samples}", file=sys.stderr)
        return 2
    ok = True
    with tempfile.TemporaryDirectory(prefix="goaml-samples-") as tmp:
        folder = Path(tmp)
        lenient = folder / "lenient.json"
        lenient.write_text(json.dumps(LENIENT))
        for label, env in (
            ("default", {}),
            ("lenient", {"MONEYTRAIL_GOAML_PROFILE": str(lenient)}),
        ):
            print(f"\n== profile: {label}" + (f" {json.dumps(LENIENT)}" if env else ""))
            ok &= run(files, folder, args.db, env, check_bank=label == "default")
        # The Sri Lanka FIU's own XSD beside our checks, on the Sri Lankan bank's reports only.
        for xsd in sorted(args.samples.glob(f"xsd/{LK_XSD}")):
            profile = folder / "lenient-lk.json"
            profile.write_text(json.dumps({**LENIENT, "name": "lenient-lk-xsd", "xsd": str(xsd)}))
            print(f"\n== profile: lenient, with the XSD {xsd.name}")
            env = {"MONEYTRAIL_GOAML_PROFILE": str(profile)}
            lk = [f for f in files if LK_FILES in f.name]
            run(lk, folder, args.db, env, check_bank=False)
    return 0 if ok else 1


def run(files: list[Path], folder: Path, db: str, env: dict[str, str], *, check_bank: bool) -> bool:
    ok = True
    with (
        service.fresh_database(db, folder) as url,
        service.running_service(
            url,
            folder / "service.log",
            role="admin",
            env={"MONEYTRAIL_LOG_LEVEL": "WARNING", **env},
        ) as svc,
        httpx.Client(
            base_url=svc.base, headers={"Authorization": f"Bearer {svc.key}"}, timeout=600
        ) as client,
    ):
        for path in files:
            r = client.post(
                "/api/v1/imports/goaml",
                files={"file": (path.name, path.read_bytes(), "application/xml")},
            )
            print(f"\n{path.name}: {r.status_code}")
            body = r.json()
            if r.status_code >= 500:
                ok = False
                print(f"  {body}\n  service log: {(folder / 'service.log').read_text()[-3000:]}")
            for line in describe(body):
                print(f"  {line}")
            if check_bank and path.name.startswith(BANK_CTR):
                ok &= r.status_code == 201 and check_against_xml(client, path)
    return ok


def describe(body: dict[str, Any]) -> Iterator[str]:
    for report in body.get("reports", []):
        yield (
            f"stored: {report['transactions']} tx ({report['inserted']} new, "
            f"{report['repeats']} repeats), {report['parties_inserted']} parties, "
            f"{report['accounts_inserted']} accounts, {report['holders_added']} holder links, "
            f"{report['party_links']} party links"
        )
        kinds: dict[str, int] = {}
        for note in report["notes"]:
            kinds[note["type"]] = kinds.get(note["type"], 0) + 1
        if kinds:
            yield f"notes: {kinds}"
        for note in report["notes"]:
            if note["type"] != "truncated":
                yield f"  note {note['type']} {note['path']} (line {note['line']}): {note['msg']}"
    if "errors" in body:
        cut = " (list cut)" if body.get("truncated") else ""
        yield f"faults: {body['error_count']}{cut}"
        if body.get("not_counted_count"):
            yield f"schema faults judged equal in value, not counted: {body['not_counted_count']}"
        for error in body["errors"]:
            yield f"  {error['path']} (line {error['line']}): {error['msg']}"


# -- an independent reading of the bank CTR ----------------------------------------------------


def _text(element: Any, name: str) -> str | None:
    found = element.find(name)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _party_key(element: Any) -> str:
    if element.tag.endswith("person"):
        for name, prefix in (("ssn", "ssn"), ("id_number", "id")):
            if (value := _text(element, name)) is not None:
                return f"person:{prefix}:{value}"
        if (passport := _text(element, "passport_number")) is not None:
            return (
                f"person:passport:{_text(element, 'passport_country') or 'no-country'}:{passport}"
            )
        raise ValueError(f"a person without ssn, id_number or passport at {element.sourceline}")
    country = _text(element, "incorporation_country_code") or ""
    if (number := _text(element, "incorporation_number")) is not None:
        return f"entity:reg:{country}:{number}"
    return f"entity:name:{(_text(element, 'name') or '').upper()}|{country}"


def _account_key(side: Any, direction: str) -> str:
    account = side.find(f"{direction}_account")
    if account is None:
        party = side.find(f"{direction}_person")
        return f"ext:{_party_key(party if party is not None else side.find(f'{direction}_entity'))}"
    return f"bank:{_text(account, 'swift')}/{_text(account, 'account')}"


def expected(path: Path) -> dict[str, tuple[str, Decimal, str, str, str, str]]:
    """Per external id: the transaction as the XML states it, each transactionnumber once."""
    root = etree.parse(str(path)).getroot()
    rentity, currency = _text(root, "rentity_id"), _text(root, "currency_code_local")
    found = {}
    for tx in root.iter("transaction"):
        written = _text(tx, "date_transaction") or ""
        # The bank writes .NET's seven fraction digits, all zero; its dates carry no zone and
        # the default profile reads them in UTC.
        day = datetime.strptime(written[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        sides = [
            mine if mine is not None else tx.find(other)
            for mine, other in (
                (tx.find("t_from_my_client"), "t_from"),
                (tx.find("t_to_my_client"), "t_to"),
            )
        ]
        found[f"goaml:{rentity}:{_text(tx, 'transactionnumber')}"] = (
            day.isoformat().replace("+00:00", "Z"),
            Decimal(_text(tx, "amount_local") or "nan"),
            currency or "",
            _account_key(sides[0], "from"),
            _account_key(sides[1], "to"),
            _text(tx, "transactionnumber") or "",
        )
    return found


def check_against_xml(client: httpx.Client, path: Path) -> bool:
    wanted = expected(path)
    mismatches = []
    for external, (when, amount, currency, source, target, _) in wanted.items():
        got = client.get(f"/api/v1/transactions/{external}").json()
        stored = (got.get("value_time"), Decimal(got.get("amount", "nan")), got.get("currency"))
        stored_keys = (got.get("from_account"), got.get("to_account"))
        if stored != (when, amount, currency) or stored_keys != (source, target):
            mismatches.append(
                (external, stored, stored_keys, (when, amount, currency, source, target))
            )
    print(
        f"\n  {path.name} against lxml: {len(wanted)} distinct transactions in the XML, "
        f"{len(wanted) - len(mismatches)} stored with the same amount, date, currency and "
        f"account keys, {len(mismatches)} mismatches"
    )
    for mismatch in mismatches[:10]:
        print(f"    {mismatch}")
    return not mismatches


if __name__ == "__main__":
    sys.exit(main())
