from app.errors import InvalidInput, NotFound


class AssetNotFound(NotFound):
    code, title = "asset_not_found", "Asset not found"

    def __init__(self, asset_id: int) -> None:
        # The same answer whether the asset does not exist or its case is hidden from the caller.
        super().__init__(f"no asset with id {asset_id}", asset_id=asset_id)


class InvalidAsset(InvalidInput):
    code, title = "invalid_asset", "Invalid asset"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, errors=[{"loc": ["body", field], "msg": detail, "type": "value"}])
