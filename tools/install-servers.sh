#!/usr/bin/env bash
# Installs the servers the tests start (RabbitMQ, PostgreSQL, and any extra
# Debian packages named as arguments) when they are missing and we are root.
# Installing must not start system services: the tests run their own.
set -euo pipefail

need=()
# The tests run RabbitMQ and PostgreSQL in containers when a Docker engine answers.
if ! docker info >/dev/null 2>&1; then
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
    compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql)
fi
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
fi

echo "installing ${need[*]} from Debian"
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Should a system instance have started anyway, it must not hold the ports.
for service in rabbitmq-server postgresql; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
        systemctl stop "$service" || true
    fi
done
