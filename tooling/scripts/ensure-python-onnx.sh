#!/usr/bin/env bash
# The export test runs the official ONNX checker (onnx.checker.check_model, full_check) on lat's
# exported model.onnx. Install Debian's python3-onnx when missing and we can (root with apt);
# otherwise the test skips itself with a message.
set -u
if /usr/bin/python3 -c 'import onnx' >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's python3-onnx for the ONNX checker test…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-onnx) >/tmp/lat-python-onnx-install.log 2>&1 \
    || echo "could not install python3-onnx (see /tmp/lat-python-onnx-install.log); the ONNX checker test will be skipped"
else
  echo "python3-onnx is not installed and cannot be installed here; the ONNX checker test will be skipped"
fi
exit 0
