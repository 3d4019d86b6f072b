"""Safe reading of goAML XML: no DTD, no entities, no network; every fault with path and line."""

import io
import re
from dataclasses import dataclass, field
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import iterparse as defused_iterparse
from lxml import etree

# libxml2 keeps entity references unexpanded and never fetches anything; a document that
# declares a DTD at all is refused, since goAML reports have none and entity bombs need one.
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
_STEP = re.compile(r"^([^\[]+)(?:\[(\d+)\])?$")


def location(path: str | None) -> list[str | int]:
    """`/report/transaction[2]/amount_local` as ["report", "transaction", 2, "amount_local"]."""
    loc: list[str | int] = []
    for step in (path or "").strip("/").split("/"):
        if step and (m := _STEP.match(step)):
            loc.append(m.group(1))
            if m.group(2):
                loc.append(int(m.group(2)))
    return loc


@dataclass
class Faults:
    """The faults of one report, each with its element path and line."""

    filename: str | None = None
    items: list[dict[str, object]] = field(default_factory=list)

    def add(self, path: str | None, line: int | None, msg: str, kind: str = "value_error") -> None:
        entry: dict[str, object] = {
            "loc": location(path),
            "path": path,
            "line": line,
            "msg": msg,
            "type": kind,
        }
        if self.filename is not None:
            entry["file"] = self.filename
        self.items.append(entry)

    def at(self, element: Any, msg: str, kind: str = "value_error") -> None:
        self.add(element.getroottree().getpath(element), element.sourceline, msg, kind)

    def below(self, parent: Any, name: str, msg: str, kind: str = "missing") -> None:
        """A fault about a child that is absent: its would-be path, the parent's line."""
        self.add(f"{parent.getroottree().getpath(parent)}/{name}", parent.sourceline, msg, kind)


class ShapeExceeded(Exception):
    """A document beyond a bound on its shape; `field` names the setting of the bound."""

    def __init__(self, detail: str, field: str, limit: int) -> None:
        super().__init__(detail)
        self.detail, self.field, self.limit = detail, field, limit


def _check_shape(data: bytes, *, max_elements: int, max_depth: int) -> None:
    """Counts elements and depth in one streaming pass, before any tree is built.

    expat, through defusedxml, stops at the DOCTYPE, before any entity is declared. Each element
    is dropped from its parent once it ends, so the pass holds one branch of the document,
    however many elements a few packed bytes unfold into.
    """
    count, branch = 0, list[Any]()
    events = defused_iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    for event, element in events:
        if event == "end":
            branch.pop()
            if branch:
                branch[-1].remove(element)
            continue
        count += 1
        branch.append(element)
        if count > max_elements:
            raise ShapeExceeded("too many XML elements", "xml_max_elements", max_elements)
        if len(branch) > max_depth:
            raise ShapeExceeded("XML nested too deep", "xml_max_depth", max_depth)


def parse(data: bytes, faults: Faults, *, max_elements: int, max_depth: int) -> Any | None:
    """The root element, or None with the reason in `faults`."""
    try:
        _check_shape(data, max_elements=max_elements, max_depth=max_depth)
    except DefusedXmlException:
        faults.add(None, 1, "a DOCTYPE/DTD is not accepted in a goAML report", "forbidden_dtd")
        return None
    except ParseError:
        pass  # lxml says where, below
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        faults.add(None, exc.lineno, f"not well-formed XML: {exc.msg}", "xml_syntax")
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        faults.add(None, 1, "a DOCTYPE/DTD is not accepted in a goAML report", "forbidden_dtd")
        return None
    if root.tag != "report":
        faults.at(root, f"the root element is <{root.tag}>, not <report>", "not_goaml")
        return None
    return root


_FIXED = re.compile(
    r"^Element '([^']+)': The actual value '([^']*)' does not match the fixed value constraint "
    r"'([^']*)'"
)
_BOOLEAN_VALUE = {"true": True, "1": True, "false": False, "0": False}


def _fixed_booleans(xsd: Any) -> set[str]:
    """Names of elements with a fixed value whose type is xs:boolean, directly or restricted."""
    names = set()
    for element in xsd.iter("{http://www.w3.org/2001/XMLSchema}element"):
        if element.get("fixed") is None:
            continue
        base = element.get("type") or next(
            (r.get("base") for r in element.iter("{http://www.w3.org/2001/XMLSchema}restriction")),
            None,
        )
        if base is not None and base.split(":")[-1] == "boolean":
            names.add(element.get("name"))
    return names


def validate_xsd(root: Any, xsd_path: str, faults: Faults, not_counted: Faults) -> None:
    """The schema's faults; libxml2 compares fixed values lexically (`true` against a fixed
    `1`), so those equal in value go to `not_counted` instead, saying so."""
    xsd = etree.parse(xsd_path, etree.XMLParser(**_PARSER_OPTIONS))
    schema = etree.XMLSchema(xsd)
    if schema.validate(root):
        return
    booleans = _fixed_booleans(xsd)
    for entry in schema.error_log:
        m = _FIXED.match(entry.message)
        given = _BOOLEAN_VALUE.get(m.group(2).strip()) if m is not None else None
        if (
            m is not None
            and m.group(1) in booleans
            and given is not None
            and given == _BOOLEAN_VALUE.get(m.group(3).strip())
        ):
            msg = f"{entry.message} Equal in value as xs:boolean: not counted."
            not_counted.add(entry.path, entry.line, msg, "schema_equal_value")
        else:
            faults.add(entry.path, entry.line, entry.message, "schema")


def text(element: Any, name: str) -> str | None:
    """A direct child's text as written, or None when absent or blank.

    Only the blanks around it go (pretty-printing, fixed-width padding): whitespace inside a
    value is the report's own and is kept.
    """
    child = element.find(name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def child(element: Any, *names: str) -> tuple[str, Any] | tuple[None, None]:
    """The first present child among `names` (goAML's `choice`)."""
    for name in names:
        found = element.find(name)
        if found is not None:
            return name, found
    return None, None
