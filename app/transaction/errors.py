"""The transaction domain's conflicts over engine ids (docs/engine-ids.md)."""

from app.errors import Conflict


class AmbiguousTransaction(Conflict):
    code, title = "ambiguous_transaction", "Ambiguous transaction"

    def __init__(self, ref: str, engine_ids: list[str]) -> None:
        super().__init__(
            f"{ref} is the external id of {len(engine_ids)} records you may see, stored in "
            "different compartments: name one by its engine id or id",
            transaction=ref,
            engine_ids=engine_ids,
        )


class RefileCollision(Conflict):
    code, title = "refile_collision", "Refiling collides"

    def __init__(self, document_id: str, external_ids: list[str]) -> None:
        super().__init__(
            f"source document {document_id} holds external ids that the target compartment "
            f"already stores under another document: {', '.join(external_ids)}",
            source_document_id=document_id,
            external_ids=external_ids,
        )
