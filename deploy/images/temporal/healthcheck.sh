#!/bin/bash
# Exit 0 when the frontend answers: GET /api/v1/system-info on its HTTP port
# (7243), which the frontend serves once it is up. For HEALTHCHECK and
# `docker exec`; bash's /dev/tcp, so the image needs no curl.
set -eu
exec 3<>/dev/tcp/127.0.0.1/7243
printf 'GET /api/v1/system-info HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
read -r -t 5 _ status _ <&3
[ "$status" = 200 ]
