from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from risk_engine import migrations
from risk_engine.all_models import metadata


def test_models_and_migrations_agree(db):
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []


def test_database_is_at_the_newest_revision(db):
    with db.engine.connect() as conn:
        assert migrations.current_revision(conn) == migrations.head_revision()


def test_migrations_downgrade_to_base_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    migrations.upgrade(url)
    migrations.downgrade(url, revision="base")
    migrations.upgrade(url)
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
