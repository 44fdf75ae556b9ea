#!/usr/bin/env python3
"""Drives the official Python OpenFeature OFREP provider against a running signalbox.

Starts `signalbox serve` (the binary given as argv[1]) on 127.0.0.1 with a temporary database and
the flags of tests/python/flags.yaml, creates a token with the CLI, then evaluates every flag type
through the OpenFeature SDK and checks values, variants, reasons and error codes. Prints
'N passed, N failed' and exits non-zero on any failure.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="signalbox-py-")
    os.makedirs(os.path.join(work, "sources"))
    os.makedirs(os.path.join(work, "flags"))
    with open(os.path.join(HERE, "flags.yaml")) as src, open(os.path.join(work, "flags", "app.yaml"), "w") as dst:
        dst.write(src.read())
    port = free_port()
    env = dict(os.environ,
               SIGNALBOX_SOURCES=os.path.join(work, "sources"),
               SIGNALBOX_FLAGS=os.path.join(work, "flags"),
               DATABASE_URL="sqlite://" + os.path.join(work, "signalbox.db"),
               SIGNALBOX_LISTEN=f"127.0.0.1:{port}",
               RUST_LOG="warn")
    token = subprocess.run([binary, "token", "create", "--name", "python-app", "--scope", "flags:read",
                            "--env", "production"], env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    server = subprocess.Popen([binary, "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("signalbox did not become ready")
                time.sleep(0.2)
        return run_checks(base, token)
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_checks(base, token):
    api.set_provider(OFREPProvider(base, headers_factory=lambda: {"Authorization": f"Bearer {token}"}))
    client = api.get_client()
    anon = api.get_client("no-token")
    api.set_provider(OFREPProvider(base), "no-token")
    ctx = EvaluationContext(targeting_key="user-1", attributes={"email": "jo@acme.test", "country": "US"})
    plain = EvaluationContext(targeting_key="user-2")
    checks = []

    def check(name, cond):
        checks.append((name, bool(cond)))
        print(("ok   " if cond else "FAIL ") + name)

    d = client.get_boolean_details("feature.banner", False, ctx)
    check("boolean targeting match", d.value is True and d.variant == "on" and d.reason == Reason.TARGETING_MATCH)
    d = client.get_boolean_details("feature.banner", True, plain)
    check("boolean default variant", d.value is False and d.reason == Reason.DEFAULT)
    d = client.get_string_details("greeting", "?", ctx)
    check("string", d.value == "Hey" and d.variant == "casual")
    d = client.get_integer_details("max.items", 0, plain)
    check("integer static", d.value == 100 and d.reason == Reason.STATIC)
    d = client.get_float_details("temperature", 0.0, plain)
    check("float", abs(d.value - 1.0) < 1e-9)
    d = client.get_object_details("route.chat", {}, plain)
    check("object", isinstance(d.value, dict) and d.value["targets"][0]["provider"] == "anthropic")
    d = client.get_boolean_details("missing.flag", True, plain)
    check("missing flag -> code default + FLAG_NOT_FOUND", d.value is True and d.error_code == ErrorCode.FLAG_NOT_FOUND)
    d = client.get_boolean_details("old.feature", False, plain)
    check("disabled flag -> code default", d.value is False and d.reason == Reason.DISABLED)
    d = anon.get_boolean_details("feature.banner", True, plain)
    check("no token -> code default with an error", d.value is True and d.error_code is not None)

    passed = sum(1 for _, ok in checks if ok)
    failed = len(checks) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
