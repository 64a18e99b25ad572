"""Schemathesis hooks for the contract check (loaded through SCHEMATHESIS_HOOKS).

Bodies that are not UTF-8 are not sent: `cargo lambda watch`'s emulator answers them with its
own 500 before any function runs, so they would test the emulator, not Nomaly. How the functions
answer such a body (a JSON 400) is proven by the detect handler test `body that is not UTF-8`,
which feeds a base64-encoded binary body the way API Gateway delivers one.
"""

import schemathesis


@schemathesis.hook
def filter_body(context, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


# `cargo lambda watch` 1.9 intermittently answers its own problem+json 500 when a function's
# response is larger than about 16 KB (measured: 7 of 60 identical 19.7 KB GETs), although the
# function answered 200 (its request log line says so). Those failures are dropped here and
# counted in the file named by NOMALY_EMULATOR_FAILURES; the harness (tests/src/contract.rs)
# separately checks every function log line of the run and fails on any status >= 500.
EMULATOR_500_TYPE = "https://httpstatuses.com/500"


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if response.status_code != 500:
        return True
    try:
        emulator = response.json().get("type") == EMULATOR_500_TYPE
    except Exception:
        emulator = False
    if emulator:
        import os

        path = os.environ.get("NOMALY_EMULATOR_FAILURES")
        if path:
            with open(path, "a") as f:
                f.write(f"{case.method} {case.path}\n")
    return not emulator
