"""SQLAlchemy 2.0 typed models. Every schema change needs an Alembic revision in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    canonical_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccessKey(Base):
    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="Active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KeyPair(Base):
    __tablename__ = "key_pairs"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    key_type: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SecurityGroup(Base):
    __tablename__ = "security_groups"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    rules: Mapped[list[SecurityGroupRule]] = relationship(
        back_populates="group",
        cascade="all, delete-orphan",
        foreign_keys="SecurityGroupRule.group_id",
        order_by="SecurityGroupRule.position",
    )


class SecurityGroupRule(Base):
    """One permission: a protocol/port range and exactly one source or destination."""

    __tablename__ = "security_group_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    is_egress: Mapped[bool] = mapped_column()
    protocol: Mapped[str] = mapped_column(String(8))
    from_port: Mapped[int | None] = mapped_column(Integer)
    to_port: Mapped[int | None] = mapped_column(Integer)
    cidr_ipv4: Mapped[str | None] = mapped_column(String(64))
    cidr_ipv6: Mapped[str | None] = mapped_column(String(64))
    prefix_list_id: Mapped[str | None] = mapped_column(String(64))
    peer_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    peer_account_id: Mapped[str | None] = mapped_column(String(12))
    description: Mapped[str | None] = mapped_column(String(255))

    group: Mapped[SecurityGroup] = relationship(back_populates="rules", foreign_keys=[group_id])


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_account_key", "account_id", "key"),)

    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(256), default="")


# --- EC2 images -------------------------------------------------------------------------------


class Image(Base):
    """A registered kernel (``aki-``), ramdisk (``ari-``) or machine (``ami-``) image whose bytes
    live in the object store; ``manifest`` is the normalised JSON of what RegisterImage read."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("account_id", "name"),
                      Index("ix_images_is_public", "is_public"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(255))
    image_type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    architecture: Mapped[str] = mapped_column(String(16))
    virtualization_type: Mapped[str] = mapped_column(String(16))
    root_device_type: Mapped[str] = mapped_column(String(16))
    root_device_name: Mapped[str | None] = mapped_column(String(64))
    kernel_id: Mapped[str | None] = mapped_column(String(32))
    ramdisk_id: Mapped[str | None] = mapped_column(String(32))
    image_location: Mapped[str] = mapped_column(String(1100))
    manifest: Mapped[str] = mapped_column(Text)
    block_device_mappings: Mapped[str] = mapped_column(Text, default="[]")
    is_public: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImageLaunchPermission(Base):
    """An account (other than the owner) that may launch a private image."""

    __tablename__ = "image_launch_permissions"

    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True, index=True)


# --- S3 -------------------------------------------------------------------------------------

# S3 lists keys in UTF-8 binary order: PostgreSQL must compare them bytewise ("C" collation).
S3Key = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class Bucket(Base):
    __tablename__ = "s3_buckets"

    name: Mapped[str] = mapped_column(String(63).with_variant(String(63, collation="C"),
                                                              "postgresql"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    region: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    versioning: Mapped[str | None] = mapped_column(String(16))
    acl: Mapped[str | None] = mapped_column(Text)
    policy: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)
    cors: Mapped[str | None] = mapped_column(Text)
    lifecycle: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    ownership: Mapped[str | None] = mapped_column(String(32))
    """Object ownership control (BucketOwnerEnforced disables ACLs), None when never set."""
    public_access_block: Mapped[str | None] = mapped_column(Text)
    """JSON of the Block Public Access settings (see ``controller/s3/public_rules.py``)."""
    object_lock: Mapped[str | None] = mapped_column(Text)
    """JSON of the ObjectLockConfiguration (NULL: Object Lock not enabled on the bucket)."""
    encryption: Mapped[str | None] = mapped_column(Text)
    """Default encryption (JSON of the botocore ServerSideEncryptionConfiguration), NULL none."""
    logging: Mapped[str | None] = mapped_column(Text)
    """Server access logging (JSON of the botocore LoggingEnabled), NULL when off."""


class S3Object(Base):
    """One version of an object (``version_id`` "null" when the bucket is not versioned)."""

    __tablename__ = "s3_objects"
    __table_args__ = (
        UniqueConstraint("bucket", "key", "version_id"),
        Index("ix_s3_objects_listing", "bucket", "is_latest", "key"),
        # Inline objects have no blob: only rows with one are indexed (the reaper's lookups).
        Index("ix_s3_objects_blob_id", "blob_id", sqlite_where=text("blob_id IS NOT NULL"),
              postgresql_where=text("blob_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(ForeignKey("s3_buckets.name", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(S3Key)
    version_id: Mapped[str] = mapped_column(String(64))
    is_latest: Mapped[bool] = mapped_column()
    delete_marker: Mapped[bool] = mapped_column(default=False)
    blob_id: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    etag: Mapped[str] = mapped_column(String(64), default="")
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    owner_account_id: Mapped[str] = mapped_column(String(12))
    headers: Mapped[str] = mapped_column(Text, default="{}")
    user_metadata: Mapped[str] = mapped_column(Text, default="{}")
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16))
    checksum_value: Mapped[str | None] = mapped_column(String(128))
    acl: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)
    upload_id: Mapped[str | None] = mapped_column(String(64))
    """The multipart upload this version was completed from (a repeated Complete answers again)."""
    parts: Mapped[str | None] = mapped_column(Text)
    """JSON ``[[size, etag, checksum], ...]`` of a multipart object's parts (GET/HEAD
    ``?partNumber=``, GetObjectAttributes); ``checksum`` (base64) may be null or absent."""
    lock_mode: Mapped[str | None] = mapped_column(String(16))
    """Object Lock retention mode of this version (GOVERNANCE, COMPLIANCE), NULL: none."""
    lock_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    legal_hold: Mapped[bool | None] = mapped_column()
    """Object Lock legal hold: True ON, False OFF, NULL never set."""
    storage_class: Mapped[str | None] = mapped_column(String(32))
    """The storage class the writer asked for; NULL: STANDARD. Every class is kept on the same
    disks; GLACIER and DEEP_ARCHIVE versions are read only while restored (``restored_until``)."""
    restored_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Until when a restored copy of an archived version may be read (RestoreObject)."""
    sse: Mapped[str | None] = mapped_column(String(16))
    """Server-side encryption of the stored bytes (AES256), NULL: stored as sent."""
    sse_key: Mapped[str | None] = mapped_column(String(128))
    """The key material of an encrypted version (``controller.s3.encryption.Sealed``)."""
    inline_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """A small object's bytes, kept with its metadata instead of in a blob file (``blob_id``
    is then NULL): one transaction writes both, with no file to create and fsync."""


class MultipartUpload(Base):
    __tablename__ = "s3_multipart_uploads"
    __table_args__ = (Index("ix_s3_uploads_bucket_key", "bucket", "key"),)

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[str] = mapped_column(ForeignKey("s3_buckets.name", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(S3Key)
    owner_account_id: Mapped[str] = mapped_column(String(12))
    initiated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    headers: Mapped[str] = mapped_column(Text, default="{}")
    user_metadata: Mapped[str] = mapped_column(Text, default="{}")
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16))
    checksum_type: Mapped[str | None] = mapped_column(String(16))
    """COMPOSITE (a checksum of the part checksums) or FULL_OBJECT (a CRC of the whole)."""
    acl: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)
    lock_mode: Mapped[str | None] = mapped_column(String(16))
    lock_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    legal_hold: Mapped[bool | None] = mapped_column()
    storage_class: Mapped[str | None] = mapped_column(String(32))
    """The completed object's storage class; NULL: STANDARD."""
    sse: Mapped[str | None] = mapped_column(String(16))
    sse_key: Mapped[str | None] = mapped_column(String(128))


class UploadPart(Base):
    __tablename__ = "s3_upload_parts"

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("s3_multipart_uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob_id: Mapped[str] = mapped_column(String(32), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    checksum_value: Mapped[str | None] = mapped_column(String(128))
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sse_nonce: Mapped[str | None] = mapped_column(String(32))
    """The counter block the part's bytes are encrypted from (an encrypted upload's part)."""


class Node(Base):
    """A node agent known to the controller: where it listens, what it can hold, how it is."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    endpoint: Mapped[str] = mapped_column(String(512))
    hypervisor: Mapped[str] = mapped_column(String(16))
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mib: Mapped[int] = mapped_column(BigInteger)
    disk_gib: Mapped[int] = mapped_column(BigInteger)
    max_instances: Mapped[int] = mapped_column(Integer)
    credential_hash: Mapped[str] = mapped_column(String(64))
    api_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    instances: Mapped[str | None] = mapped_column(Text)
    """JSON list of ``{"instance_id", "state"}`` from the last heartbeat."""
    state: Mapped[str] = mapped_column(String(16), default="healthy")
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_heartbeat_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


# --- EC2 instances ----------------------------------------------------------------------------


class Reservation(Base):
    """One RunInstances call: its instances share the reservation id (``r-``)."""

    __tablename__ = "reservations"
    __table_args__ = (UniqueConstraint("account_id", "client_token"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    requester_id: Mapped[str] = mapped_column(String(32))
    client_token: Mapped[str | None] = mapped_column(String(64))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the RunInstances parameters, to refuse a ClientToken reused for another call."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Instance(Base):
    """An instance and the state machine the reconciler drives (``controller/ec2/instance_states``)."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_account_state", "account_id", "state"),
                      Index("ix_instances_node_state", "node_id", "state"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), index=True)
    launch_index: Mapped[int] = mapped_column(Integer)
    image_id: Mapped[str] = mapped_column(String(32))
    kernel_id: Mapped[str | None] = mapped_column(String(32))
    ramdisk_id: Mapped[str | None] = mapped_column(String(32))
    instance_type: Mapped[str] = mapped_column(String(64))
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mib: Mapped[int] = mapped_column(BigInteger)
    disk_gib: Mapped[int] = mapped_column(BigInteger)
    architecture: Mapped[str] = mapped_column(String(16))
    root_device_type: Mapped[str] = mapped_column(String(16))
    root_device_name: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    state_reason_code: Mapped[str | None] = mapped_column(String(64))
    state_reason_message: Mapped[str | None] = mapped_column(String(255))
    state_transition_reason: Mapped[str] = mapped_column(String(255), default="")
    reboot_requested: Mapped[bool] = mapped_column(default=False)
    key_name: Mapped[str | None] = mapped_column(String(255))
    public_key: Mapped[str | None] = mapped_column(Text)
    security_groups: Mapped[str] = mapped_column(Text, default="[]")
    """JSON ``[{"GroupId", "GroupName"}]`` as given at launch."""
    user_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    availability_zone: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    private_ip: Mapped[str | None] = mapped_column(String(45), unique=True)
    mac: Mapped[str] = mapped_column(String(17))
    disable_api_termination: Mapped[bool] = mapped_column(default=False)
    shutdown_behavior: Mapped[str] = mapped_column(String(16), default="stop")
    metadata_options: Mapped[str] = mapped_column(Text, default="{}")
    monitoring: Mapped[bool] = mapped_column(default=False)
    block_device_mappings: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    """JSON ``[{"DeviceName", "VirtualName", "SizeGiB"}]``: the ephemeral disks the launch
    honoured (``controller/ec2/instance_devices.py``)."""
    launch_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                       index=True)
    console_output: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """The last console text fetched from the node (GetConsoleOutput answers from here)."""
    console_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    console_wanted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When a client last asked for the console: the reconciler fetches it while recent."""
    image_hold: Mapped[str | None] = mapped_column(String(16))
    """CreateImage without NoReboot (migration 0016): ``stopping`` while the node shuts the
    guest down for the image's snapshots, ``off`` while they are taken from the files,
    ``booting`` from the boot after them until a node report shows the guest running; the
    instance stays ``running`` to the API throughout."""


# --- EBS volumes and snapshots ----------------------------------------------------------------


class Volume(Base):
    """An EBS volume. ``location`` is where its bytes live for ``backend`` (the ``file`` backend:
    the absolute path of a sparse raw or qcow2 file on ``host``, the storage host that holds it).

    States follow EC2: ``creating`` → ``available`` ⇄ ``in-use`` → ``deleting`` (the row goes once
    the bytes are gone) and ``error``. The one attachment is kept on the row (no Multi-Attach):
    ``attach_state`` is ``attaching``/``attached``/``detaching``/``busy`` or NULL.
    """

    __tablename__ = "volumes"
    __table_args__ = (Index("ix_volumes_account_state", "account_id", "state"),
                      Index("ix_volumes_instance", "instance_id"),
                      UniqueConstraint("account_id", "client_token"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    size_gib: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[str | None] = mapped_column(String(32))
    availability_zone: Mapped[str] = mapped_column(String(64))
    volume_type: Mapped[str] = mapped_column(String(16), default="gp2")
    iops: Mapped[int | None] = mapped_column(Integer)
    throughput: Mapped[int | None] = mapped_column(Integer)
    encrypted: Mapped[bool] = mapped_column(default=False)
    auto_enable_io: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16))
    state_message: Mapped[str | None] = mapped_column(String(255))
    backend: Mapped[str] = mapped_column(String(16), default="file")
    host: Mapped[str | None] = mapped_column(String(255))
    location: Mapped[str | None] = mapped_column(String(1024))
    format: Mapped[str] = mapped_column(String(8), default="raw")
    instance_id: Mapped[str | None] = mapped_column(String(32))
    device: Mapped[str | None] = mapped_column(String(64))
    attach_state: Mapped[str | None] = mapped_column(String(16))
    attach_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delete_on_termination: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    client_token: Mapped[str | None] = mapped_column(String(64))
    """CreateVolume's ClientToken (migration 0011): a repeated call answers this volume."""
    request_digest: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the CreateVolume parameters, to refuse a ClientToken reused for another call."""


class Snapshot(Base):
    """An EBS snapshot: the volume's bytes at ``start_time``, compressed and stored in parts
    under ``bucket``/``prefix`` of the object store (a system bucket), so any node or zone can
    restore it. ``manifest`` is the engine's JSON description of the parts.

    States follow EC2: ``pending`` (with ``progress`` 0–100) → ``completed`` or ``error``.
    """

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_account_state", "account_id", "state"),
                      Index("ix_snapshots_is_public", "is_public"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    volume_id: Mapped[str] = mapped_column(String(32))
    """The source volume (``vol-ffffffff`` for a copied snapshot, as EC2 reports)."""
    volume_size_gib: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(16))
    state_message: Mapped[str | None] = mapped_column(String(255))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    encrypted: Mapped[bool] = mapped_column(default=False)
    source_snapshot_id: Mapped[str | None] = mapped_column(String(32))
    bucket: Mapped[str | None] = mapped_column(String(64))
    prefix: Mapped[str | None] = mapped_column(String(255))
    manifest: Mapped[str | None] = mapped_column(Text)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    is_public: Mapped[bool] = mapped_column(default=False)
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """While a controller's snapshot job works on a pending snapshot: until when its claim
    holds (renewed as parts are stored). A pending snapshot whose lease ran out was
    interrupted: it ends ``error`` and its parts are removed (migration 0015)."""


class SnapshotPermission(Base):
    """An account (other than the owner) that may create volumes from a private snapshot."""

    __tablename__ = "snapshot_permissions"

    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"),
                                             primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True, index=True)


# --- CloudWatch -------------------------------------------------------------------------------


class CwMetric(Base):
    """One CloudWatch metric: (account, namespace, name, dimension set). ``key_hash`` is the
    SHA-256 of the canonical key (``controller/cloudwatch/store.metric_key``), unique per account;
    ``dimensions`` is the canonical JSON ``[[name, value], ...]`` sorted by name."""

    __tablename__ = "cw_metrics"
    __table_args__ = (UniqueConstraint("account_id", "key_hash"),
                      Index("ix_cw_metrics_account_namespace", "account_id", "namespace",
                            "metric_name"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(255))
    metric_name: Mapped[str] = mapped_column(String(255))
    dimensions: Mapped[str] = mapped_column(Text)
    last_put_at: Mapped[int] = mapped_column(BigInteger, index=True)
    """Epoch seconds of the last datapoint received (ListMetrics ``RecentlyActive``)."""


class CwMetricDimension(Base):
    """The dimensions of a metric, one row each, for ListMetrics' dimension filters."""

    __tablename__ = "cw_metric_dimensions"
    __table_args__ = (Index("ix_cw_metric_dimensions_name_value", "name", "value"),)

    metric_id: Mapped[int] = mapped_column(ForeignKey("cw_metrics.id", ondelete="CASCADE"),
                                           primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024))


class CwDatapoint(Base):
    """The statistic set of one metric over one period at one storage resolution (1, 60, 300 or
    3600 s), per unit. ``sketch`` is the JSON log-bucket histogram that percentiles come from
    (NULL once a StatisticSet without values was merged in: no percentiles for it)."""

    __tablename__ = "cw_datapoints"

    metric_id: Mapped[int] = mapped_column(ForeignKey("cw_metrics.id", ondelete="CASCADE"),
                                           primary_key=True)
    resolution: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    sample_count: Mapped[float] = mapped_column(Float)
    sum: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    sketch: Mapped[str | None] = mapped_column(Text)


class CwIngestedSample(Base):
    """Node samples already counted, so a retried batch is not counted twice."""

    __tablename__ = "cw_ingested_samples"

    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    end_ts: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)


class CwAlarm(Base):
    """A metric alarm: its definition (``definition``, JSON of the PutMetricAlarm parameters
    that describe it) and its state."""

    __tablename__ = "cw_alarms"
    __table_args__ = (UniqueConstraint("account_id", "name"),
                      Index("ix_cw_alarms_metric", "account_id", "namespace", "metric_name"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    namespace: Mapped[str | None] = mapped_column(String(255))
    metric_name: Mapped[str | None] = mapped_column(String(255))
    definition: Mapped[str] = mapped_column(Text)
    actions_enabled: Mapped[bool] = mapped_column(default=True)
    state_value: Mapped[str] = mapped_column(String(32), default="INSUFFICIENT_DATA")
    state_reason: Mapped[str] = mapped_column(Text, default="Unchecked: Initial alarm creation")
    state_reason_data: Mapped[str | None] = mapped_column(Text)
    state_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    configuration_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                               default=utcnow)
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CwAlarmHistory(Base):
    """DescribeAlarmHistory: configuration updates, state changes and actions of alarms."""

    __tablename__ = "cw_alarm_history"
    __table_args__ = (Index("ix_cw_alarm_history_account_time", "account_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    alarm_name: Mapped[str] = mapped_column(String(255))
    item_type: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
