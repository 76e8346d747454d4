"""Telegram I/O: handlers, rendering, the outbox sender, polling and webhook, the sandbox."""

import os

# python-telegram-bot 22 warns on every 429 unless durations are timedeltas, its announced
# future default; opt in once here, before any Bot API call is made.
os.environ.setdefault("PTB_TIMEDELTA", "1")
