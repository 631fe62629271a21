#!/usr/bin/env bash
# The playground's browser test needs Debian's Chromium. Install it when missing and we can
# (root with apt); otherwise the test skips itself with a message. Never downloads a browser build.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser test…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/tmp/lat-chromium-install.log 2>&1 \
    || echo "could not install chromium (see /tmp/lat-chromium-install.log); the browser test will be skipped"
else
  echo "chromium is not installed and cannot be installed here; the browser test will be skipped"
fi
exit 0
