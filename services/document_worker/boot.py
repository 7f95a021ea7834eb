"""Process set-up for document_worker: logging and the broker its actors bind to."""

from __future__ import annotations

from shared.messaging.broker import boot_worker
from shared.messaging.routes import DOCUMENTS_QUEUE
from shared.settings import get_settings

broker = boot_worker(get_settings(), DOCUMENTS_QUEUE)
