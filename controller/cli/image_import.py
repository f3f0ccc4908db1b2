"""``ironbark admin image import``: upload an image's files through the cloud's own S3 API, write
Ironbark JSON manifests next to them, and register the kernel, ramdisk and machine images.

It talks to a running controller (``--endpoint``, default the configured one) with the
credentials of the chosen account, so uploads go through the same S3 code path, access checks
and durability as any client's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from controller.cli.admin import AdminError, _db, active_credentials, endpoint_of
from controller.config import Settings
from controller.ec2.image_manifest import JSON_VERSION

PART_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class Uploaded:
    key: str
    size: int
    sha256: str


class Progress:
    """``name  42% (27/64 MiB)`` on one line of stderr, rewritten in place."""

    def __init__(self, name: str, total: int, out: TextIO) -> None:
        self.name, self.total, self.out, self.done = name, total, out, 0

    def advance(self, count: int) -> None:
        self.done += count
        percent = 100 if self.total == 0 else self.done * 100 // self.total
        mib = 1024 * 1024
        self.out.write(f"\r  {self.name:<24} {percent:3d}% ({self.done / mib:.1f}/"
                       f"{self.total / mib:.1f} MiB)")
        if self.done >= self.total:
            self.out.write("\n")
        self.out.flush()


def clients(settings: Settings, account: str | None, endpoint: str | None) -> tuple[Any, Any]:
    """botocore S3 and EC2 clients of an account (default: the admin account), keys straight
    from the database, against ``endpoint`` (default: the configured one)."""
    import botocore.session
    from botocore.config import Config

    with _db(settings) as (session, box):
        creds = active_credentials(session, box, account)
    botocore_session = botocore.session.get_session()
    common: dict[str, Any] = {
        "endpoint_url": endpoint or endpoint_of(settings), "region_name": settings.region,
        "aws_access_key_id": creds.access_key_id,
        "aws_secret_access_key": creds.secret_access_key}
    s3 = botocore_session.create_client(
        "s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        **common)
    ec2 = botocore_session.create_client("ec2", config=Config(retries={"max_attempts": 2}),
                                         **common)
    return s3, ec2


def upload(s3: Any, bucket: str, key: str, path: Path, out: TextIO) -> Uploaded:
    """Upload ``path`` (in parts when large), hashing it on the way."""
    size = path.stat().st_size
    progress = Progress(path.name, size, out)
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        if size <= PART_SIZE:
            data = stream.read()
            digest.update(data)
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            progress.advance(len(data))
            return Uploaded(key, size, digest.hexdigest())
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = []
        try:
            for number in range(1, 10_001):
                chunk = stream.read(PART_SIZE)
                if not chunk:
                    break
                digest.update(chunk)
                etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                      PartNumber=number, Body=chunk)["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
                progress.advance(len(chunk))
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": parts})
        except BaseException:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise
    return Uploaded(key, size, digest.hexdigest())


def manifest_for(image_type: str, architecture: str, part: Uploaded, prefix: str,
                 disk_format: str = "raw", cmdline: str | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "manifest_version": JSON_VERSION, "image_type": image_type,
        "architecture": architecture,
        "parts": [{"key": part.key.removeprefix(prefix), "size": part.size,
                   "sha256": part.sha256}]}
    if image_type == "machine":
        manifest["disk_format"] = disk_format
    if cmdline:
        manifest["kernel_cmdline"] = cmdline
    return manifest


@dataclass(frozen=True)
class Files:
    disk: Path
    kernel: Path | None
    ramdisk: Path | None
    disk_format: str
    cmdline: str | None
    name: str


def directory_files(directory: Path, name: str | None = None) -> Files:
    """The files of an image directory made by ``deploy/images/build-demo.sh`` (image.json)."""
    info = json.loads((directory / "image.json").read_text())
    root = info["root"]
    return Files(directory / root["file"], directory / info["kernel"]["file"],
                 directory / info["ramdisk"]["file"], root.get("format", "raw"),
                 info.get("cmdline"), name or info.get("name", "ironbark-demo"))


def _files(args: argparse.Namespace) -> Files:
    if args.directory is not None:
        return directory_files(args.directory, args.name)
    if args.disk is None:
        raise AdminError("give an image directory (with image.json) or --disk")
    if args.ramdisk is not None and args.kernel is None:
        raise AdminError("--ramdisk needs --kernel")
    return Files(args.disk, args.kernel, args.ramdisk, args.disk_format, args.cmdline,
                 args.name or args.disk.stem)


def import_image(args: argparse.Namespace, settings: Settings) -> int:
    files = _files(args)
    s3, ec2 = clients(settings, args.account, args.endpoint)
    ids = import_files(s3, ec2, files, args.bucket, prefix=args.prefix,
                       architecture=args.architecture, public=args.public)
    print(json.dumps(ids))
    return 0


def import_files(s3: Any, ec2: Any, files: Files, bucket: str, *, prefix: str | None = None,
                 architecture: str = "x86_64", public: bool = False,
                 out: TextIO | None = None) -> dict[str, str]:
    """Upload and register ``files``; ``{"ImageId", "KernelId", "RamdiskId"}`` (those made).
    Progress goes to ``out`` (default stderr)."""
    out = out or sys.stderr
    key_prefix = (prefix or files.name).strip("/") + "/"
    _ensure_bucket(s3, bucket)
    print(f"importing {files.name} into s3://{bucket}/{key_prefix}", file=out)
    register = _registrar(s3, ec2, bucket, key_prefix, architecture, out)
    extra: dict[str, Any] = {}
    if files.kernel is not None:
        extra["KernelId"] = register("kernel", files.kernel, f"{files.name}-kernel", {})
        if files.ramdisk is not None:
            extra["RamdiskId"] = register("ramdisk", files.ramdisk, f"{files.name}-ramdisk", {})
    else:
        extra["VirtualizationType"] = "hvm"
    image_id = register("machine", files.disk, files.name,
                        {"disk_format": files.disk_format, "cmdline": files.cmdline, **extra})
    if public:
        ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})
    return {"ImageId": image_id, **{k: v for k, v in extra.items() if k.endswith("Id")}}


def _ensure_bucket(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def _registrar(s3: Any, ec2: Any, bucket: str, prefix: str,
               architecture: str, out: TextIO) -> Callable[[str, Path, str, dict[str, Any]], str]:
    def register(image_type: str, path: Path, name: str, options: dict[str, Any]) -> str:
        from botocore.exceptions import ClientError

        part = upload(s3, bucket, f"{prefix}{path.name}", path, out)
        manifest = manifest_for(image_type, architecture, part, prefix,
                                options.pop("disk_format", "raw"), options.pop("cmdline", None))
        key = f"{prefix}{image_type}.manifest.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
        try:
            image_id: str = ec2.register_image(Name=name, ImageLocation=f"{bucket}/{key}",
                                               Architecture=architecture, **options)["ImageId"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AdminError(f"RegisterImage {name}: {error.get('Code')}: "
                             f"{error.get('Message')}") from None
        print(f"  registered {image_id} ({image_type}, {name})", file=out)
        return image_id

    return register


def add_parser(groups: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    image = groups.add_parser("image", help="images").add_subparsers(dest="op", required=True)
    cmd = image.add_parser("import", help="upload and register a kernel + ramdisk + disk "
                                          "image (or a whole-disk image)")
    common(cmd)
    cmd.add_argument("directory", nargs="?", type=Path,
                     help="a directory with image.json (deploy/images/build-demo.sh OUTDIR)")
    cmd.add_argument("--bucket", required=True, help="bucket to upload into (created if missing)")
    cmd.add_argument("--prefix", help="key prefix (default: the image name)")
    cmd.add_argument("--name", help="image name (default: from image.json or the disk file)")
    cmd.add_argument("--account", help="account name or id (default: the admin account)")
    cmd.add_argument("--endpoint", help="controller endpoint (default: from the settings)")
    cmd.add_argument("--disk", type=Path, help="disk image file (without a directory)")
    cmd.add_argument("--kernel", type=Path, help="kernel file (omit for a whole-disk image)")
    cmd.add_argument("--ramdisk", type=Path, help="ramdisk file")
    cmd.add_argument("--disk-format", choices=["raw", "qcow2"], default="raw")
    cmd.add_argument("--cmdline", help="kernel command line")
    cmd.add_argument("--architecture", default="x86_64")
    cmd.add_argument("--public", action="store_true", help="make the machine image public")
    cmd.set_defaults(admin_func=import_image)
