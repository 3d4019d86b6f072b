from app.errors import InvalidInput, RecordNotFound


class AssetNotFound(RecordNotFound):
    code, title = "asset_not_found", "Asset not found"
    noun, key = "asset", "asset_id"


class InvalidAsset(InvalidInput):
    code, title = "invalid_asset", "Invalid asset"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, errors=[{"loc": ["body", field], "msg": detail, "type": "value"}])
