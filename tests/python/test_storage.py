"""storage_helper against a real S3-compatible server (s3s-fs), for both backends (boto3 and minio)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

import storage_helper
from storage_helper import AuthError, NotFoundError, StorageConfig, StorageError

from conftest import ACCESS_KEY, MIB, SECRET_KEY, FaultProxy, S3Server, StorageFactory


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# upload / download
# ---------------------------------------------------------------------------------------------------------------


def test_upload_bytes_then_download_file_roundtrips(storage: storage_helper.Storage, bucket: str, admin: Any, tmp_path: Path) -> None:
    data = b"\x00\x01 fave \xff" * 1000
    storage.upload_bytes(bucket, "jobs/1/blob.bin", data, content_type="application/x-fave")

    # The object is really on the server, with the content type we set (checked with an independent client).
    head = admin.head_object(Bucket=bucket, Key="jobs/1/blob.bin")
    assert head["ContentType"] == "application/x-fave"
    assert head["ContentLength"] == len(data)

    target = storage.download_file(bucket, "jobs/1/blob.bin", tmp_path / "deep" / "er" / "out.bin")
    assert target == tmp_path / "deep" / "er" / "out.bin"
    assert target.read_bytes() == data


def test_upload_file_guesses_content_type_from_name_and_allows_override(
    storage: storage_helper.Storage, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "result.json"
    source.write_text('{"ok": true}')
    storage.upload_file(bucket, "guessed.json", source)
    storage.upload_file(bucket, "explicit.json", source, content_type="text/plain")
    unknown = tmp_path / "noext"
    unknown.write_bytes(b"x")
    storage.upload_file(bucket, "unknown", unknown)

    assert storage.stat(bucket, "guessed.json").content_type == "application/json"
    assert storage.stat(bucket, "explicit.json").content_type == "text/plain"
    assert storage.stat(bucket, "unknown").content_type == "application/octet-stream"
    assert storage.stat(bucket, "guessed.json").size == len('{"ok": true}')


def test_upload_file_of_missing_local_file_says_which_file(storage: storage_helper.Storage, bucket: str, tmp_path: Path) -> None:
    missing = tmp_path / "not-there.wav"
    with pytest.raises(StorageError, match="cannot read local file .*not-there.wav"):
        storage.upload_file(bucket, "k", missing)


def test_download_to_tmp_yields_file_and_deletes_it(storage: storage_helper.Storage, bucket: str, tmp_path: Path) -> None:
    storage.upload_bytes(bucket, "audio/in.wav", b"RIFF....WAVE")
    with storage.download_to_tmp(bucket, "audio/in.wav") as path:
        assert path.is_file()
        assert path.suffix == ".wav"  # keeps the key's extension for format sniffing
        assert path.read_bytes() == b"RIFF....WAVE"
        kept = path
    assert not kept.exists()

    # Deleted also when the block raises.
    with pytest.raises(RuntimeError, match="boom"):
        with storage.download_to_tmp(bucket, "audio/in.wav", suffix=".bin") as path:
            assert path.suffix == ".bin"
            kept = path
            raise RuntimeError("boom")
    assert not kept.exists()


def test_download_to_tmp_uses_configured_folder_and_leaves_nothing_on_failure(
    make_storage: StorageFactory, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage(tmp_dir=str(tmp_path))
    storage.upload_bytes(bucket, "x.txt", b"x")
    with storage.download_to_tmp(bucket, "x.txt") as path:
        assert path.parent == tmp_path
    with pytest.raises(NotFoundError):
        with storage.download_to_tmp(bucket, "missing.txt"):
            pytest.fail("the block must not run when the download fails")
    assert list(tmp_path.iterdir()) == []


def test_module_level_download_to_tmp_uses_environment(
    s3_server: S3Server, backend: str, bucket: str, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.put_object(Bucket=bucket, Key="env.txt", Body=b"from env")
    monkeypatch.setenv("FAVE_STORAGE_BACKEND", backend)
    monkeypatch.setenv("FAVE_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("FAVE_S3_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("FAVE_S3_SECRET_KEY", SECRET_KEY)
    with storage_helper.download_to_tmp(bucket, "env.txt") as path:
        assert path.read_bytes() == b"from env"
    assert storage_helper.default_storage().backend_name == backend


# ---------------------------------------------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------------------------------------------


def test_list_keys_by_prefix_across_pages(
    make_storage: StorageFactory, bucket: str, admin: Any, proxy: FaultProxy
) -> None:
    wanted = [f"jobs/7/part-{i:03d}.json" for i in range(23)]
    for key in wanted + ["jobs/70/other.json", "jobs/8/x.json", "top.json"]:
        admin.put_object(Bucket=bucket, Key=key, Body=b"{}")

    storage = make_storage(endpoint=proxy.endpoint)
    keys = list(storage.list_keys(bucket, prefix="jobs/7/", page_size=5))

    assert keys == wanted
    # 23 keys at 5 a page is 5 ListObjectsV2 requests: the pages really came from the server one by one.
    assert len(proxy.requests_matching("GET", "list-type=2")) == 5


def test_list_keys_is_lazy_and_empty_prefix_lists_everything(storage: storage_helper.Storage, bucket: str, admin: Any) -> None:
    for key in ["a", "b/c", "d/e/f"]:
        admin.put_object(Bucket=bucket, Key=key, Body=b"")
    iterator = storage.list_keys(bucket, page_size=1)
    assert next(iterator) == "a"
    assert list(iterator) == ["b/c", "d/e/f"]
    assert list(storage.list_keys(bucket, prefix="nothing/")) == []


def test_list_keys_rejects_bad_page_size(storage: storage_helper.Storage, bucket: str) -> None:
    with pytest.raises(ValueError, match="page_size must be between 1 and 1000"):
        list(storage.list_keys(bucket, page_size=1001))


def test_list_keys_resumes_after_transient_failure_mid_listing(
    make_storage: StorageFactory, bucket: str, admin: Any, proxy: FaultProxy
) -> None:
    wanted = [f"k{i:02d}" for i in range(9)]
    for key in wanted:
        admin.put_object(Bucket=bucket, Key=key, Body=b"")
    storage = make_storage(endpoint=proxy.endpoint)
    iterator = storage.list_keys(bucket, page_size=3)
    first = [next(iterator) for _ in range(3)]
    proxy.fail_next(1)  # the request for the second page fails once
    rest = list(iterator)
    assert first + rest == wanted  # nothing lost, nothing repeated
    assert len(proxy.failed) == 1


# ---------------------------------------------------------------------------------------------------------------
# multipart
# ---------------------------------------------------------------------------------------------------------------


def test_upload_file_above_threshold_is_multipart(
    make_storage: StorageFactory, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage(multipart_threshold=5 * MIB, part_size=5 * MIB)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * MIB))  # 5 + 5 + 2 MiB
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(4 * MIB))

    storage.upload_file(bucket, "big.bin", big)
    storage.upload_file(bucket, "small.bin", small)

    big_info = storage.stat(bucket, "big.bin")
    assert big_info.size == 12 * MIB
    assert big_info.etag is not None and big_info.etag.endswith("-3"), big_info.etag  # S3 multipart ETag: md5-<parts>
    small_info = storage.stat(bucket, "small.bin")
    assert small_info.etag is not None and "-" not in small_info.etag  # single PUT: plain MD5
    assert small_info.etag == hashlib.md5(small.read_bytes()).hexdigest()

    out = storage.download_file(bucket, "big.bin", tmp_path / "back.bin")
    assert _sha256(out) == _sha256(big)


def test_upload_bytes_above_threshold_is_multipart_and_below_is_single_put(
    make_storage: StorageFactory, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage(multipart_threshold=6 * MIB, part_size=5 * MIB)
    data = os.urandom(11 * MIB)
    storage.upload_bytes(bucket, "b.bin", data, content_type="application/x-test")
    info = storage.stat(bucket, "b.bin")
    assert info.etag is not None and info.etag.endswith("-3")
    assert info.content_type == "application/x-test"
    assert storage.download_file(bucket, "b.bin", tmp_path / "b").read_bytes() == data

    # 5.5 MiB is below the 6 MiB threshold: one PUT (minio alone would have split it into 5 MiB parts).
    below = os.urandom(11 * MIB // 2)
    storage.upload_bytes(bucket, "c.bin", below)
    assert storage.stat(bucket, "c.bin").etag == hashlib.md5(below).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# exists / delete
# ---------------------------------------------------------------------------------------------------------------


def test_exists_and_delete(storage: storage_helper.Storage, bucket: str, admin: Any) -> None:
    storage.upload_bytes(bucket, "d/1", b"1")
    assert storage.exists(bucket, "d/1") is True
    assert storage.exists(bucket, "d/2") is False

    storage.delete(bucket, "d/1")
    assert storage.exists(bucket, "d/1") is False
    assert admin.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0

    storage.delete(bucket, "d/1")  # deleting a missing key succeeds, as on S3


def test_bucket_helpers(storage: storage_helper.Storage, admin: Any) -> None:
    name = f"made-by-{storage.backend_name}-{os.getpid()}"
    assert storage.bucket_exists(name) is False
    storage.create_bucket(name)
    storage.create_bucket(name)  # exist_ok
    assert storage.bucket_exists(name) is True
    admin.head_bucket(Bucket=name)


# ---------------------------------------------------------------------------------------------------------------
# errors: missing key, missing bucket, bad credentials
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["download_file", "download_to_tmp", "stat"])
def test_missing_key_raises_not_found_naming_the_key(
    storage: storage_helper.Storage, bucket: str, tmp_path: Path, operation: str
) -> None:
    with pytest.raises(NotFoundError) as info:
        if operation == "download_file":
            storage.download_file(bucket, "no/such.wav", tmp_path / "out.wav")
        elif operation == "download_to_tmp":
            with storage.download_to_tmp(bucket, "no/such.wav"):
                pass
        else:
            storage.stat(bucket, "no/such.wav")
    error = info.value
    assert error.missing == "key"
    assert error.bucket == bucket and error.key == "no/such.wav"
    assert f"key 'no/such.wav' does not exist in bucket '{bucket}'" in str(error)
    assert error.attempts == 1  # not retried
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("operation", ["upload_bytes", "upload_file", "download_file", "list_keys", "exists", "stat", "delete"])
def test_missing_bucket_raises_not_found_naming_the_bucket(
    storage: storage_helper.Storage, s3_server: S3Server, tmp_path: Path, operation: str
) -> None:
    bucket = "no-such-bucket-here"
    source = tmp_path / "in.txt"
    source.write_text("x")
    calls = {
        "upload_bytes": lambda: storage.upload_bytes(bucket, "k.txt", b"x"),
        "upload_file": lambda: storage.upload_file(bucket, "k.txt", source),
        "download_file": lambda: storage.download_file(bucket, "k.txt", tmp_path / "out"),
        "list_keys": lambda: list(storage.list_keys(bucket)),
        "exists": lambda: storage.exists(bucket, "k.txt"),
        "stat": lambda: storage.stat(bucket, "k.txt"),
        "delete": lambda: storage.delete(bucket, "k.txt"),
    }
    with pytest.raises(NotFoundError) as info:
        calls[operation]()
    assert info.value.missing == "bucket"
    assert f"bucket '{bucket}' does not exist" in str(info.value)
    # s3s-fs would create the bucket on a PUT; the helper must have refused before that.
    assert not (s3_server.data_dir / bucket).exists()


@pytest.mark.parametrize(
    ("access_key", "secret_key"),
    [(ACCESS_KEY, "wrong-secret"), ("unknown-access-key", SECRET_KEY)],
    ids=["wrong-secret", "unknown-access-key"],
)
@pytest.mark.parametrize("operation", ["upload_bytes", "download_file", "list_keys", "exists"])
def test_bad_credentials_raise_auth_error(
    make_storage: StorageFactory,
    bucket: str,
    admin: Any,
    tmp_path: Path,
    access_key: str,
    secret_key: str,
    operation: str,
) -> None:
    admin.put_object(Bucket=bucket, Key="k", Body=b"secret data")
    storage = make_storage(access_key=access_key, secret_key=secret_key)
    calls = {
        "upload_bytes": lambda: storage.upload_bytes(bucket, "new", b"x"),
        "download_file": lambda: storage.download_file(bucket, "k", tmp_path / "out"),
        "list_keys": lambda: list(storage.list_keys(bucket)),
        "exists": lambda: storage.exists(bucket, "k"),
    }
    with pytest.raises(AuthError, match="rejected the credentials") as info:
        calls[operation]()
    assert info.value.attempts == 1  # credentials do not get better by retrying
    assert not (tmp_path / "out").exists()
    assert admin.list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # nothing was written


# ---------------------------------------------------------------------------------------------------------------
# retries
# ---------------------------------------------------------------------------------------------------------------


def test_transient_errors_are_retried_then_succeed(
    make_storage: StorageFactory, bucket: str, admin: Any, proxy: FaultProxy, tmp_path: Path
) -> None:
    admin.put_object(Bucket=bucket, Key="flaky.txt", Body=b"eventually")
    storage = make_storage(endpoint=proxy.endpoint, max_attempts=4)

    proxy.fail_next(2, status=503, code="SlowDown")
    out = storage.download_file(bucket, "flaky.txt", tmp_path / "out.txt")
    assert out.read_text() == "eventually"
    assert len(proxy.failed) == 2

    proxy.fail_next(1, status=500, code="InternalError")
    storage.upload_bytes(bucket, "up.txt", b"after a 500")
    assert admin.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"after a 500"
    assert len(proxy.failed) == 3


def test_retries_give_up_after_max_attempts(make_storage: StorageFactory, bucket: str, proxy: FaultProxy) -> None:
    storage = make_storage(endpoint=proxy.endpoint, max_attempts=3)
    storage.upload_bytes(bucket, "k", b"v")  # bucket check and upload succeed
    before = len(proxy.requests)
    proxy.fail_next(100, status=503, code="ServiceUnavailable")
    with pytest.raises(StorageError) as info:
        storage.stat(bucket, "k")
    error = info.value
    assert type(error) is StorageError and error.transient
    assert error.attempts == 3 and "after 3 attempts" in str(error)
    assert len(proxy.requests) - before == 3  # exactly max_attempts requests were made


def test_non_transient_errors_are_not_retried(make_storage: StorageFactory, bucket: str, proxy: FaultProxy) -> None:
    storage = make_storage(endpoint=proxy.endpoint, max_attempts=5)
    proxy.fail_next(1, status=400, code="InvalidArgument")
    with pytest.raises(StorageError) as info:
        storage.stat(bucket, "k")
    assert not info.value.transient and info.value.attempts == 1
    assert len(proxy.failed) == 1


def test_unreachable_endpoint_is_transient_and_retried(make_storage: StorageFactory, free_port: int) -> None:
    slept: list[float] = []
    storage = make_storage(endpoint=f"http://127.0.0.1:{free_port}", max_attempts=3, backoff_base=0.5, backoff_max=0.6)
    storage._sleep = slept.append  # record the backoff instead of waiting
    with pytest.raises(StorageError) as info:
        storage.stat("any-bucket", "k")
    assert info.value.transient and info.value.attempts == 3
    assert len(slept) == 2
    assert 0.25 <= slept[0] <= 0.5 and 0.3 <= slept[1] <= 0.6  # base * 2**n, jittered into [0.5, 1), capped


# ---------------------------------------------------------------------------------------------------------------
# configuration and factory
# ---------------------------------------------------------------------------------------------------------------


def test_get_storage_picks_backend_from_env_and_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAVE_S3_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("FAVE_S3_ACCESS_KEY", "a")
    monkeypatch.setenv("FAVE_S3_SECRET_KEY", "b")
    assert isinstance(storage_helper.get_storage(), storage_helper.Boto3Storage)  # default
    monkeypatch.setenv("FAVE_STORAGE_BACKEND", "MinIO")
    assert isinstance(storage_helper.get_storage(), storage_helper.MinioStorage)
    assert isinstance(storage_helper.get_storage("boto3"), storage_helper.Boto3Storage)  # argument wins
    monkeypatch.setenv("FAVE_STORAGE_BACKEND", "gcs")
    with pytest.raises(ValueError, match="unknown storage backend 'gcs': use one of boto3, minio"):
        storage_helper.get_storage()


def test_config_from_env_reads_every_setting(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not really a certificate")
    env = {
        "FAVE_STORAGE_BACKEND": "minio",
        "FAVE_S3_ENDPOINT": "minio.internal:9000",
        "FAVE_S3_SECURE": "false",
        "AWS_ACCESS_KEY_ID": "ak",
        "AWS_SECRET_ACCESS_KEY": "sk",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "FAVE_S3_VERIFY": str(bundle),
        "FAVE_S3_MULTIPART_THRESHOLD": "10485760",
        "FAVE_S3_PART_SIZE": "5242880",
        "FAVE_S3_MAX_ATTEMPTS": "2",
        "FAVE_S3_BACKOFF_BASE": "0.5",
        "FAVE_TMP_DIR": str(tmp_path),
    }
    config = StorageConfig.from_env(env)
    assert config.backend == "minio"
    assert config.endpoint_url == "http://minio.internal:9000"
    assert (config.access_key, config.secret_key, config.region) == ("ak", "sk", "eu-west-1")
    assert config.verify == str(bundle)
    assert (config.multipart_threshold, config.part_size, config.max_attempts) == (10 * MIB, 5 * MIB, 2)
    assert config.backoff_base == 0.5 and config.tmp_dir == str(tmp_path)
    # FAVE_* wins over AWS_*
    assert StorageConfig.from_env({**env, "FAVE_S3_REGION": "us-west-2"}).region == "us-west-2"
    assert StorageConfig.from_env({"FAVE_S3_VERIFY": "false"}).verify is False
    assert StorageConfig.from_env({"FAVE_S3_ENDPOINT": "s3.example.com"}).endpoint_url == "https://s3.example.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FAVE_S3_PART_SIZE": "1024"}, "part_size must be between 5 MiB and 5 GiB"),
        ({"FAVE_S3_MULTIPART_THRESHOLD": "lots"}, "FAVE_S3_MULTIPART_THRESHOLD must be a whole number"),
        ({"FAVE_S3_VERIFY": "/no/such/ca.pem"}, "FAVE_S3_VERIFY must be true, false or the path of a CA bundle"),
        ({"FAVE_S3_SECURE": "maybe"}, "FAVE_S3_SECURE must be true or false"),
        ({"FAVE_S3_ENDPOINT": "ftp://host"}, "endpoint must be an http:// or https:// URL"),
        ({"FAVE_S3_ENDPOINT": "http://host:9000/bucket"}, "endpoint must not have a path"),
        ({"FAVE_S3_ACCESS_KEY": "only-half"}, "access_key and secret_key must be given together"),
        ({"FAVE_S3_MAX_ATTEMPTS": "0"}, "max_attempts must be at least 1"),
    ],
)
def test_config_errors_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StorageConfig.from_env(env)


def test_tls_settings_reach_both_clients() -> None:
    insecure = StorageConfig(endpoint="https://s3.example.test:8443", access_key="a", secret_key="b", verify=False)
    boto = storage_helper.get_storage("boto3", config=insecure)
    assert boto.client.meta.endpoint_url == "https://s3.example.test:8443"
    assert boto.client._endpoint.http_session._verify is False
    mini = storage_helper.get_storage("minio", config=insecure)
    assert mini.client._base_url.is_https
    assert mini.client._http.connection_pool_kw["cert_reqs"] == "CERT_NONE"
    strict = storage_helper.get_storage("minio", config=StorageConfig(endpoint="https://s3.example.test", access_key="a", secret_key="b"))
    assert strict.client._http.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
