"""A Dramatiq actor that does nothing, on werving's broker and middleware: the floor
under every worker (``dramatiq bench.noop_worker --queues bench_noop``).

Each message appends one byte to the file ``WERVING_BENCH_TALLY`` names (O_APPEND:
atomic across processes), so that the bench sees when the last one is done.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq

from bench.dramatiq_floor import NOOP_ACTOR, NOOP_QUEUE
from shared.messaging.broker import ACTOR_OPTIONS, boot_worker
from shared.settings import get_settings

broker = boot_worker(get_settings(), NOOP_QUEUE)
_tally = os.open(os.environ["WERVING_BENCH_TALLY"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)


@dramatiq.actor(actor_name=NOOP_ACTOR, queue_name=NOOP_QUEUE, **ACTOR_OPTIONS)
def noop(message: dict[str, Any]) -> None:
    os.write(_tally, b".")
