#!/bin/sh
# As the official image's entrypoint: as root, hand /data to redis and step down.
set -e
if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
exec "$@"
