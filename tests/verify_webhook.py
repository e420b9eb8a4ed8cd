#!/usr/bin/env python3
"""Verify one verified-outcome notice with the `standardwebhooks` package.

Usage:
    python3 tests/verify_webhook.py SECRET HEADERS_JSON BODY_FILE

SECRET        the shared secret, `whsec_<base64>`
HEADERS_JSON  the request headers as a JSON object: either a path to a file
              holding it, or the JSON text itself. Needs webhook-id,
              webhook-timestamp and webhook-signature (any letter case).
BODY_FILE     the raw request body, byte for byte as received

Exit status: 0 if the notice verifies (signature matches and the timestamp is
within 5 minutes of now), 1 if it does not, 2 on a usage error or when the
package is missing (`python3 -m pip install standardwebhooks`).

This is an independent cross-check of outcomesd's signer (src/notify.rs),
using the reference implementation published by the Standard Webhooks
project, not outcomesd's own code.
"""

import json
import os
import sys


def main(argv):
    if len(argv) != 4:
        print("usage: python3 tests/verify_webhook.py SECRET HEADERS_JSON BODY_FILE",
              file=sys.stderr)
        return 2
    secret, headers_arg, body_path = argv[1], argv[2], argv[3]
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError:
        print("the standardwebhooks package is not installed", file=sys.stderr)
        return 2
    try:
        if os.path.isfile(headers_arg):
            with open(headers_arg, encoding="utf-8") as f:
                headers = json.load(f)
        else:
            headers = json.loads(headers_arg)
        if not isinstance(headers, dict):
            raise ValueError("headers must be a JSON object")
        headers = {str(k): str(v) for k, v in headers.items()}
        with open(body_path, "rb") as f:
            body = f.read()
    except (OSError, ValueError) as e:
        print(f"cannot read input: {e}", file=sys.stderr)
        return 2
    try:
        wh = Webhook(secret)
        wh.verify(body, headers)
    except Exception as e:  # WebhookVerificationError, bad base64, bad UTF-8...
        print(f"INVALID: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"VALID: {headers.get('webhook-id') or headers.get('Webhook-Id')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
