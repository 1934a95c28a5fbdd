#!/bin/sh
set -e
# The data folder is a volume: hand it to the service's user, then drop root.
usermod -u "${PUID:-1000}" app 2>/dev/null || true
chown -R app /data
exec gosu app "$@"
