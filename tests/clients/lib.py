"""Shared prelude of the boto3 test scripts: clients pointed at the region under test.

The Rust harness (crates/sixfold/tests/common/clients.rs) runs a script with SIXFOLD_ENDPOINT,
the region's key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the script's arguments as JSON
in SIXFOLD_ARGS; the script prints ONE JSON document on stdout, which the test asserts on.
"""
import json
import os
import sys

import boto3
import botocore.config
import botocore.exceptions

ARGS = json.loads(os.environ.get("SIXFOLD_ARGS", "{}"))


def config(validate=True):
    """The client configuration every script uses: no retries (a test sees the first answer) and,
    with `validate=False`, no boto3 parameter checks, so the server's checks are what answers."""
    return botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"},
        parameter_validation=validate,
    )


def client(service, validate=True):
    """A boto3 client for `service` (ec2, eks, iam, sts) against the region under test."""
    return boto3.client(
        service,
        endpoint_url=os.environ["SIXFOLD_ENDPOINT"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=config(validate),
    )


def attempt(fn, *args, **kwargs):
    """Run one call; a client error becomes {"error": code, "message": ...} instead of raising."""
    try:
        return fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        return {"error": err.get("Code"), "message": err.get("Message")}
    except botocore.exceptions.ParamValidationError as e:
        return {"error": "ParamValidationError", "message": str(e)}


def strip(v):
    """Drop ResponseMetadata (request ids differ per client) recursively, for comparisons."""
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def emit(result):
    """Print the script's one JSON result (datetimes as ISO 8601 strings)."""
    json.dump(strip(result), sys.stdout, default=lambda o: o.isoformat())
    sys.stdout.write("\n")
