from app.domain_errors import InvalidField
from app.errors import Conflict, NotFound


class SaleNotFound(NotFound):
    code, title = "sale_not_found", "Sale order not found"

    def __init__(self, sale_id: int) -> None:
        super().__init__(f"no interlocutory sale order {sale_id} on this asset", sale_id=sale_id)


class AllocationNotFound(NotFound):
    code, title = "allocation_not_found", "Allocation not found"

    def __init__(self, asset_id: int) -> None:
        super().__init__(f"the proceeds of asset {asset_id} are not allocated", asset_id=asset_id)


class SaleConflict(Conflict):
    """The asset or the order is not where a sale order or a sale can be recorded."""

    code, title = "sale_conflict", "Sale not possible"


class AllocationConflict(Conflict):
    code, title = "allocation_conflict", "Allocation not possible"


class InvalidRealisation(InvalidField):
    code, title = "invalid_realisation", "Invalid sale or allocation"
