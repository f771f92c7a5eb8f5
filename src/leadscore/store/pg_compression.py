"""PostgreSQL: the long values the store's connections write compressed with LZ4, where the server has it.

A value of a row past about 2 kB (an outbox message's payload: 1.8 kB of JSON on average in the b2b
example, up to 2.5; a long score breakdown) is compressed as the row is written, with the server's
`default_toast_compression`, `pglz` unless set. A lifecycle apply at 100,000 leads x 50 events
enqueues some 71,000 messages, each compressed twice with pglz (in the staging table the COPY fills,
then in the outbox): inserting 70,000 payloads into a copy of the outbox cost the server 2.2-3.3 CPU s
with pglz, 1.8-2.1 with LZ4, and staging them 0.74-0.83 against 0.37-0.38. LZ4 reads back the same
values (decompression is the server's, whatever a value was written with), and values written before
stay as they are.

Set per session on each new connection of the store's pool (`default_toast_compression`, PostgreSQL 14
and later, when the server was built with LZ4): one statement that sets nothing on a server without it,
so a store on such a server works as before.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# sets the session's default to lz4 only where the setting exists and offers it (no row: nothing set)
SET_LZ4 = (
    "SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings "
    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def compress_with_lz4(engine: Engine) -> None:
    """Each connection `engine` opens writes its long values compressed with LZ4 (`SET_LZ4`)."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(SET_LZ4)
        dbapi_conn.commit()  # a session setting made in a transaction rolled back would be undone
