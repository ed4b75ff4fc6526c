"""The image's HEALTHCHECK: exit 0 when GET /healthz answers 200."""

import os
import sys
import urllib.request

url = "http://127.0.0.1:%s/healthz" % os.environ.get("PORT", "8080")
try:
    with urllib.request.urlopen(url, timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as error:  # noqa: BLE001 - any failure means unhealthy
    print(error, file=sys.stderr)
    sys.exit(1)
