"""What a cache call raises when the cache, not the code, is at fault.

Redis down, refusing or timing out (``CACHE_SOCKET_TIMEOUT_MS``) raises a
``RedisError`` (or a bare socket ``OSError``); an entry that no longer
unpickles is a ``PickleError``. The cached reads catch exactly these and read
the database instead; anything else is a bug and propagates.
"""

from __future__ import annotations

import pickle

from redis.exceptions import RedisError

CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, pickle.PickleError)
