from app.domain_errors import InvalidField
from app.errors import RecordNotFound


class AssetNotFound(RecordNotFound):
    code, title = "asset_not_found", "Asset not found"
    noun, key = "asset", "asset_id"


class InvalidAsset(InvalidField):
    code, title = "invalid_asset", "Invalid asset"
