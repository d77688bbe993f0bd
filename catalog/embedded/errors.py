"""Atlas's error codes (``AtlasErrorCode``) for what the embedded Atlas refuses.

The library raises ``AtlasApiError`` with Atlas's code and HTTP status, so the web layer
answers exactly what a real Atlas would (``{errorCode, errorMessage}``) and Atlas
clients that branch on ``errorCode`` behave the same. Messages follow Atlas's
templates, with the catalog's own detail (which entity, which attribute) where
Atlas's would say less.
"""

from __future__ import annotations

from catalog.errors import CatalogError

__all__ = [
    "AtlasApiError",
    "INSTANCE_GUID_NOT_FOUND",
    "INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND",
    "REFERENCED_ENTITY_NOT_FOUND",
    "INSTANCE_CRUD_INVALID_PARAMS",
    "TYPE_NAME_NOT_FOUND",
    "CLASSIFICATION_ALREADY_ASSOCIATED",
    "CLASSIFICATION_NOT_ASSOCIATED",
    "UNKNOWN_CLASSIFICATION",
    "CLASSIFICATION_DELETE_FROM_PROPAGATED",
    "INVALID_PARTIAL_UPDATE_ATTR",
    "INVALID_PARAMETERS",
    "UNAUTHORIZED_ACCESS",
]

INSTANCE_GUID_NOT_FOUND = "ATLAS-404-00-005"
INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND = "ATLAS-404-00-009"
REFERENCED_ENTITY_NOT_FOUND = "ATLAS-404-00-00A"
#: Atlas answers validation failures of entity writes with 404 and this code.
INSTANCE_CRUD_INVALID_PARAMS = "ATLAS-404-00-007"
#: "Type ENTITY with name X does not exist"
TYPE_NAME_NOT_FOUND = "ATLAS-400-00-014"
#: Atlas answers a duplicate classification with INVALID_PARAMETERS ("already associated with")
CLASSIFICATION_ALREADY_ASSOCIATED = "ATLAS-400-00-01A"
#: "Classification X is not associated with entity" (CLASSIFICATION_NOT_ASSOCIATED_WITH_ENTITY)
CLASSIFICATION_NOT_ASSOCIATED = "ATLAS-400-00-06D"
#: "Delete of classification X is not allowed from propagated entity"
CLASSIFICATION_DELETE_FROM_PROPAGATED = "ATLAS-400-00-06C"
UNKNOWN_CLASSIFICATION = "ATLAS-400-00-046"
#: "invalid parameters: ..." (also what Atlas answers for a duplicate classification)
INVALID_PARAMETERS = "ATLAS-400-00-01A"
#: "Invalid attribute X for partial update of Y"
INVALID_PARTIAL_UPDATE_ATTR = "ATLAS-400-00-074"
UNAUTHORIZED_ACCESS = "ATLAS-403-00-001"


class AtlasApiError(CatalogError):
    """An Atlas API request the catalog refuses: Atlas's ``code``, HTTP ``status`` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def guid_not_found(guid: str) -> AtlasApiError:
    return AtlasApiError(404, INSTANCE_GUID_NOT_FOUND, f"Given instance guid {guid} is invalid/not found")


def unique_not_found(type_name: str, qualified_name: str) -> AtlasApiError:
    return AtlasApiError(
        404, INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND,
        f"Instance {type_name} with unique attribute {{qualifiedName={qualified_name}}} does not exist",
    )


# -- relationships (``catalog.embedded.relationships``) ----------------------------------------

#: "invalid value: unknown relationship type'X'" (Atlas's answer for a relationship type it lacks)
INVALID_VALUE = "ATLAS-400-00-028"
#: "Attribute X not found for type Y"
UNKNOWN_ATTRIBUTE = "ATLAS-400-00-023"
#: "invalid relationshipDef: X: actual: [end type 1: ..., end type 2: ...]. expected: [...]"
INVALID_RELATIONSHIP_END_TYPE = "ATLAS-400-00-036"
#: "Invalid entity-type for relationship attribute ‘X’: entity specified (guid=G) is of type ‘T’, ..."
RELATIONSHIP_INVALID_ENDTYPE = "ATLAS-400-00-045"
#: "Relationship end is invalid. Expected T but is NULL"
RELATIONSHIP_END_IS_NULL = "ATLAS-400-00-07D"
#: "Invalid propagation P for relationship-type=X. Default value is D"
INVALID_PROPAGATION_TYPE = "ATLAS-400-00-091"
#: Atlas answers these two with HTTP 404 despite their 400 codes.
RELATIONSHIP_UPDATE_END_CHANGE_NOT_ALLOWED = "ATLAS-400-00-069"
RELATIONSHIP_UPDATE_TYPE_CHANGE_NOT_ALLOWED = "ATLAS-400-00-06A"
#: "Given relationship guid G is invalid/not found"
RELATIONSHIP_GUID_NOT_FOUND = "ATLAS-404-00-00C"
#: "Invalid relationship creation/updation parameters passed : ..." (HTTP 404, as Atlas)
RELATIONSHIP_CRUD_INVALID_PARAMS = "ATLAS-404-00-00D"
#: "Attempting to delete a relationship which is already deleted : G"
RELATIONSHIP_ALREADY_DELETED = "ATLAS-404-00-00F"
#: "relationship X already exists between entities G1 and G2"
RELATIONSHIP_ALREADY_EXISTS = "ATLAS-409-00-004"

__all__ += [
    "INVALID_VALUE",
    "UNKNOWN_ATTRIBUTE",
    "INVALID_RELATIONSHIP_END_TYPE",
    "RELATIONSHIP_INVALID_ENDTYPE",
    "RELATIONSHIP_END_IS_NULL",
    "INVALID_PROPAGATION_TYPE",
    "RELATIONSHIP_UPDATE_END_CHANGE_NOT_ALLOWED",
    "RELATIONSHIP_UPDATE_TYPE_CHANGE_NOT_ALLOWED",
    "RELATIONSHIP_GUID_NOT_FOUND",
    "RELATIONSHIP_CRUD_INVALID_PARAMS",
    "RELATIONSHIP_ALREADY_DELETED",
    "RELATIONSHIP_ALREADY_EXISTS",
]
