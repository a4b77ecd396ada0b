"""A real S3 endpoint on localhost for the object-store tests: moto's server (the S3 REST API over HTTP,
in a thread of the test process), reached by obstore, boto3 and Ray workers alike."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import pytest


class S3:
    """The server's endpoint, the storage options that reach it, and boto3 to arrange buckets."""

    def __init__(self, endpoint: str) -> None:
        boto3 = pytest.importorskip("boto3")
        self.endpoint = endpoint
        self.options = {"aws_endpoint": endpoint, "aws_access_key_id": "testing",
                        "aws_secret_access_key": "testing", "aws_region": "us-east-1", "allow_http": "true"}  # fmt: skip
        self.client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                                   aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip

    def bucket(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)

    def upload(self, folder: Path, bucket: str, prefix: str) -> str:
        """Every file under ``folder`` to ``s3://bucket/prefix/<relative path>``; the root URI."""
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                self.put(bucket, f"{prefix}/{f.relative_to(folder).as_posix()}", f.read_bytes())
        return f"s3://{bucket}/{prefix}"


@contextmanager
def s3_server():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3(f"http://{host}:{port}")
    finally:
        server.stop()
