"""typedefs the Atlas API created, users and API tokens

- ``typedef``: every typedef of the catalog with its Atlas bookkeeping (stable guid,
  createTime, updateTime, version); ``builtin`` marks the catalog's own, which the API
  cannot modify. The registry is built from this table plus the packaged files.
- ``app_user``: who may use the API and the UI (werkzeug password hash, role).
- ``api_token``: bearer tokens, stored as sha256 digests only.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "typedef",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("guid", sa.String(36), nullable=False),
        sa.Column("service_type", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
    )
    op.create_index("ix_typedef_guid", "typedef", ["guid"], unique=True)
    op.create_table(
        "app_user",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "api_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_api_token_user", "api_token", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_api_token_user", "api_token")
    op.drop_table("api_token")
    op.drop_table("app_user")
    op.drop_index("ix_typedef_guid", "typedef")
    op.drop_table("typedef")
