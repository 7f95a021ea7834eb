"""Limits every consumer of werving's queues keeps: timings and how often a message may
come back."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

# RabbitMQ closes a channel whose delivery stays unacked for 30 minutes
# (consumer_timeout) and requeues everything on it. Dramatiq holds retried
# messages unacked until their ETA, so every delay and run time stays well below.
MAX_BACKOFF_MS: Final = 5 * 60 * 1000
TIME_LIMIT_MS: Final = 5 * 60 * 1000

# A message being retried comes back within MAX_BACKOFF_MS and runs at most TIME_LIMIT_MS:
# work (an email, a scheduled job) that nothing touched for twice as long as both has no
# message carrying it any more, or one stuck in a queue.
STALE_AFTER: Final = timedelta(milliseconds=2 * (MAX_BACKOFF_MS + TIME_LIMIT_MS))

# A message RabbitMQ delivers again (its consumer died, or lost its connection, before
# settling it) is started at most this many more times; at the next redelivery it is
# dead-lettered instead.
MAX_REDELIVERIES: Final = 3
