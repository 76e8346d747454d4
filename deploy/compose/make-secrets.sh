#!/bin/sh
# Secret files for the compose examples, in deploy/compose/secrets/ (git ignores them):
#   postgres_password   the PostgreSQL password (postgresql.yml)
#   database_url        the service's database URL, with that password (postgresql.yml)
#   webhook_secret      for webhook mode (DIARY_WEBHOOK_SECRET_FILE)
#   totp_keys           the key that encrypts console authenticator secrets (DIARY_TOTP_KEY_FILE)
# The Telegram token is yours to put into secrets/telegram_token (from BotFather); without it
# the service runs in sandbox mode. Existing files are kept.
set -eu
cd "$(dirname "$0")/secrets"
umask 077
chmod 700 .  # the files below are world-readable (see the end): the folder is not
random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
[ -s postgres_password ] || random > postgres_password
[ -s database_url ] || printf 'postgresql://diary:%s@postgres:5432/symptom_diary' \
    "$(cat postgres_password)" > database_url
[ -s webhook_secret ] || random > webhook_secret
# A Fernet key: 32 random bytes, URL-safe base64 (what `symptom-diary totp new-key` prints).
[ -s totp_keys ] || head -c 32 /dev/urandom | base64 | tr '+/' '-_' > totp_keys
# The service runs as uid 10001 in its container and must be able to read the files it gets.
chmod 644 postgres_password database_url webhook_secret totp_keys
[ -f telegram_token ] && chmod 644 telegram_token
ls -l
