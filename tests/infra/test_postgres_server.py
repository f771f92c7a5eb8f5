import pytest
import sqlalchemy as sa


@pytest.mark.integration
def test_real_postgres_answers(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("select version()")).scalar_one()
    engine.dispose()
    assert "PostgreSQL" in version
