#!/bin/sh
# Writes Janus's configuration from the templates and the environment, links
# the one plugin, transport and event handler calls use into private folders
# (Janus has only a `disable` list: an allow list that a package update cannot
# widen), and runs Janus in the foreground.
set -eu
: "${JANUS_API_SECRET:?the calls service's JANUS_API_SECRET}"
: "${JANUS_ADMIN_SECRET:?a secret of its own for the Admin API}"
: "${JANUS_ADMIN_KEY:?the calls service's JANUS_ADMIN_KEY: rooms are made with it only}"
: "${JANUS_EVENTS_URL:?where the calls service hears events, e.g. http://calls:8104/internal/janus-events}"
: "${JANUS_EVENTS_SECRET:?the calls service's JANUS_EVENTS_SECRET}"
export JANUS_RTP_PORTS="${JANUS_RTP_PORTS:-20000-20999}"
export JANUS_SESSION_TIMEOUT="${JANUS_SESSION_TIMEOUT:-60}"
# The address clients reach the media on (nat_1_1_mapping), and the one
# interface Janus gathers its ICE candidates on.
export JANUS_PUBLIC_IP="${JANUS_PUBLIC_IP:-}"
export JANUS_MEDIA_IP="${JANUS_MEDIA_IP:-$(hostname -i | cut -d' ' -f1)}"
export JANUS_API_IP="${JANUS_API_IP:-0.0.0.0}"
export JANUS_API_PORT="${JANUS_API_PORT:-8088}"
export JANUS_ADMIN_PORT="${JANUS_ADMIN_PORT:-7088}"

work="${JANUS_WORK_DIR:-/var/lib/janus/run}"
lib=/usr/lib/x86_64-linux-gnu/janus
rm -rf "$work" && mkdir -p "$work/conf" "$work/plugins" "$work/transports" "$work/events" "$work/loggers"
ln -s "$lib/plugins/libjanus_videoroom.so" "$work/plugins/"
ln -s "$lib/transports/libjanus_http.so" "$work/transports/"
ln -s "$lib/events/libjanus_sampleevh.so" "$work/events/"
export JANUS_WORK="$work"
vars='$JANUS_API_SECRET $JANUS_ADMIN_SECRET $JANUS_ADMIN_KEY $JANUS_EVENTS_URL $JANUS_EVENTS_SECRET
$JANUS_RTP_PORTS $JANUS_SESSION_TIMEOUT $JANUS_PUBLIC_IP $JANUS_MEDIA_IP $JANUS_API_IP $JANUS_API_PORT
$JANUS_ADMIN_PORT $JANUS_WORK'
for template in "${JANUS_TEMPLATES:-/usr/share/sferum-janus}"/*.jcfg; do
    envsubst "$vars" < "$template" > "$work/conf/$(basename "$template")"
done
if [ -z "$JANUS_PUBLIC_IP" ]; then
    sed -i '/nat_1_1_mapping/d' "$work/conf/janus.jcfg"
fi
# --configs-folder: the plugins and transports read their files from there only.
exec janus --configs-folder "$work/conf"
