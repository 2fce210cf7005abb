"""Back up and restore a Sealdesk installation (README.md, "Backups and restore").

    scripts/backup DIR                    # into a new folder DIR, while the app runs
    scripts/restore DIR [--end-sessions]  # into an empty database and an empty media storage

Both run with the app's environment (DATABASE_URL, MEDIA_ROOT or S3_*, SEALDESK_DATA_DIR, ...),
so that they find the database, the media and the rest exactly as the app does. A backup holds:

    manifest.json      what is in it: when, the database's kind and migrations, each media
                       object's SHA-256, the widget's files; written last, so a folder without it
                       is an unfinished backup
    database.sqlite3   SQLite's online backup (what `sqlite3 db ".backup FILE"` makes), or
    database.pgdump    pg_dump's custom format, one consistent snapshot
    media/             every object of the media storage (local folder or S3 bucket): encrypted
                       file parts, copied after the database, so that every part a row names
    widget/            the widget's builds and catalogues: tenants' snippets pin earlier builds
    secret_key         the generated SECRET_KEY, when the environment does not give one

The database and the media hold ciphertext only, but also password hashes, sessions and
second-factor secrets: keep a backup as safe as the server.
"""

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on, with the sentence that says why."""


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()


def _vendor() -> str:
    from django.db import connection

    return connection.vendor  # "sqlite" or "postgresql"


def _postgres_command(program: str, *arguments: str) -> tuple[list[str], dict[str, str]]:
    """Return PROGRAM's command line for the configured database, and its environment: the
    password goes in PGPASSWORD, never on the command line, where `ps` shows it."""
    from django.db import connection

    database = connection.settings_dict
    command = [program, "--dbname", database["NAME"], "--no-password"]
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if database.get(key):
            command += [option, str(database[key])]
    environment = dict(os.environ)
    if database.get("PASSWORD"):
        environment["PGPASSWORD"] = database["PASSWORD"]
    if database["OPTIONS"].get("sslmode"):
        environment["PGSSLMODE"] = database["OPTIONS"]["sslmode"]
    if shutil.which(program) is None:
        raise BackupError(f"{program} is missing: install Debian's postgresql-client.")
    return command + list(arguments), environment


def _media_names(folder: str = "") -> Iterator[str]:
    """Yield the name of every object in the media storage below FOLDER, but the health
    check's (contactcenter/health.py)."""
    from django.core.files.storage import default_storage

    from contactcenter.health import STORAGE_FOLDER

    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:  # a local media folder that was never made
        return
    prefix = f"{folder}/" if folder else ""
    for name in sorted(files):
        yield prefix + name
    for sub in sorted(folders):
        if prefix + sub != STORAGE_FOLDER:
            yield from _media_names(prefix + sub)


def _applied_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    return sorted(
        f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations()
    )


def _secret_key_file() -> Path | None:
    """Return the file the app's SECRET_KEY was generated into, or None when the environment
    gives the key (SECRET_KEY or SECRET_KEY_FILE)."""
    from django.conf import settings

    from contactcenter.env import env_secret

    return None if env_secret("SECRET_KEY") else Path(settings.DATA_DIR) / "secret_key"


def back_up(destination: Path) -> dict[str, Any]:
    """Write a backup of this installation into DESTINATION, a new folder; return its manifest."""
    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.db import connection

    destination.mkdir(mode=0o700, parents=True, exist_ok=False)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": _vendor(),
        "migrations": _applied_migrations(),
    }
    # The database first: media copied afterwards hold every part a row of it names.
    if manifest["database"] == "sqlite":
        if not Path(connection.settings_dict["NAME"]).is_file():
            raise BackupError(f"There is no database at {connection.settings_dict['NAME']}.")
        source = sqlite3.connect(connection.settings_dict["NAME"])
        target = sqlite3.connect(destination / "database.sqlite3")
        try:
            source.backup(target)  # SQLite's online backup: one consistent copy, WAL and all
        finally:
            target.close()
            source.close()
    else:
        dump = str(destination / "database.pgdump")
        command, environment = _postgres_command(
            "pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", dump
        )
        subprocess.run(command, env=environment, check=True)  # noqa: S603 (our own arguments)
    print(f"database ({manifest['database']}): saved", flush=True)

    media: dict[str, str] = {}
    for name in _media_names():
        path = destination / "media" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with default_storage.open(name, "rb") as stored, path.open("wb") as copy:
            while chunk := stored.read(CHUNK):
                digest.update(chunk)
                copy.write(chunk)
        media[name] = digest.hexdigest()
    manifest["media"] = media
    print(f"media: {len(media)} objects", flush=True)

    widget_dir = Path(settings.WIDGET_DIR)
    if widget_dir.is_dir():
        shutil.copytree(widget_dir, destination / "widget")
    manifest["widget"] = sorted(
        str(p.relative_to(destination / "widget"))
        for p in (destination / "widget").rglob("*")
        if p.is_file()
    )
    print(f"widget: {len(manifest['widget'])} files", flush=True)

    key_file = _secret_key_file()
    if key_file is not None and key_file.is_file():
        shutil.copyfile(key_file, destination / "secret_key")
        (destination / "secret_key").chmod(0o600)
        manifest["key_included"] = True
        print("secret key: included", flush=True)
    else:
        manifest["key_included"] = False
        print("secret key: from the environment: keep it with your other secrets", flush=True)

    (destination / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: not a finished backup.") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of another format ({manifest.get('format')}).")
    return manifest


def _check_restorable(manifest: dict[str, Any]) -> None:
    """Refuse a backup this code cannot serve, or a target that is not empty."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    if manifest["database"] != _vendor():
        raise BackupError(
            f"This is a {manifest['database']} backup and DATABASE_URL names a {_vendor()} "
            "database: restore into the same kind."
        )
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = {f"{app}.{name}" for app, name in loader.disk_migrations}
    unknown = [migration for migration in manifest["migrations"] if migration not in known]
    if unknown:
        raise BackupError(
            "The backup comes from a newer Sealdesk (migrations this code lacks: "
            f"{', '.join(unknown[:5])}): restore it with that version or a later one."
        )
    if connection.introspection.table_names():
        raise BackupError(
            "The database DATABASE_URL names holds tables already: restore into a new, empty "
            "database (a new SQLite file, or `createdb`), never over a live one."
        )
    connection.close()
    if next(_media_names(), None) is not None:
        raise BackupError(
            "The media storage holds objects already: restore into an empty MEDIA_ROOT folder "
            "or S3 bucket."
        )


def restore(source: Path, *, end_sessions: bool = False) -> dict[str, Any]:
    """Restore the backup in SOURCE into this installation's empty database and media storage,
    bring its schema up to this code's, and return its manifest."""
    from django.conf import settings
    from django.core.files import File
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.db import connection

    manifest = _read_manifest(source)
    _check_restorable(manifest)

    if manifest["database"] == "sqlite":
        backup_file = sqlite3.connect(source / "database.sqlite3")
        target = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            backup_file.backup(target)
        finally:
            target.close()
            backup_file.close()
    else:
        command, environment = _postgres_command(
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            str(source / "database.pgdump"),
        )
        subprocess.run(command, env=environment, check=True)  # noqa: S603 (our own arguments)
    print(f"database ({manifest['database']}): restored", flush=True)

    for name, sha256 in manifest["media"].items():
        path = source / "media" / name
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            raise BackupError(f"media/{name} is damaged: its SHA-256 is not the manifest's.")
        with path.open("rb") as content:
            stored = default_storage.save(name, File(content))
        if stored != name:
            raise BackupError(f"media/{name} was stored as {stored}: the storage is not empty.")
    print(f"media: {len(manifest['media'])} objects restored", flush=True)

    # Builds this machine lacks; its own current build (scripts/install makes it) stays current.
    widget_dir = Path(settings.WIDGET_DIR)
    added = 0
    for relative in manifest["widget"]:
        target_file = widget_dir / relative
        if not target_file.exists():
            target_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / "widget" / relative, target_file)
            added += 1
    print(f"widget: {added} files added", flush=True)

    key_file = _secret_key_file()
    if manifest["key_included"] and key_file is not None:
        kept = (source / "secret_key").read_text()
        if key_file.is_file() and key_file.read_text() != kept:
            key_file.replace(key_file.with_name("secret_key.before-restore"))
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(kept)
        key_file.chmod(0o600)
        print(f"secret key: restored into {key_file}", flush=True)
    elif manifest["key_included"]:
        print("secret key: the environment gives SECRET_KEY; the backup's is left out", flush=True)
    else:
        print("secret key: not in the backup; set the one the server had", flush=True)

    call_command("migrate", interactive=False, verbosity=0)
    if end_sessions:
        from django.contrib.sessions.models import Session

        ended, _ = Session.objects.all().delete()
        print(f"sessions: {ended} ended: everyone signs in again", flush=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backup", help="back up into a new folder").add_argument(
        "destination", type=Path
    )
    restoring = commands.add_parser("restore", help="restore into an empty database and media")
    restoring.add_argument("source", type=Path)
    restoring.add_argument(
        "--end-sessions",
        action="store_true",
        help="sign everyone out: sessions that ended after the backup was taken are valid again",
    )
    arguments = parser.parse_args(argv)
    _setup_django()
    try:
        if arguments.command == "backup":
            back_up(arguments.destination)
            print(f"Backed up into {arguments.destination}")
        else:
            restore(arguments.source, end_sessions=arguments.end_sessions)
            print(f"Restored from {arguments.source}")
    except (BackupError, FileExistsError, subprocess.CalledProcessError) as error:
        print(f"{arguments.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
