"""Encrypted files in Python: FileEncryptor/FileDecryptor throughput, then a file through Daphne.

Part 1 times sealdesk_client.protocol's FileEncryptor and FileDecryptor over random data in
1 MiB chunks, and their two ingredients (XSalsa20-Poly1305 and SHA-512) alone. Part 2 starts
Daphne on a fresh SQLite database, the in-memory channel layer and local-disk media in a temp
folder (or the PostgreSQL and Redis given), lets a Python customer upload a file and the agent
download it (sealdesk_client.client), and samples the Daphne process's VmRSS every 50 ms before,
during and after. MB are 1,000,000 bytes throughout. Prints the figures.

    .venv/bin/python -m bench.files_bench --size-mib 100 --repeats 3
"""

import argparse
import asyncio
import hashlib
import json
import os
import resource
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.bindings

from bench.files_common import log, machine_busy_seconds, machine_line, wait_until_quiet
from bench.servers import Backend, process_cpu_seconds, start_py_spy, stop_py_spy
from sealdesk_client import protocol
from sealdesk_client.client import AgentClient, ConversationClient, Customer
from tests.harness import Daphne

MIB = 1024 * 1024
MB = 1_000_000
ORIGIN = "https://shop.bench.example"
PRECHAT = {"name": "Fiona Files", "email": "fiona@example.org", "question": "May I send a file?"}
TARGET_RSS_GROWTH_MB = 20.0
QUOTA_BYTES = 500 * MIB  # the seeded tenant's default files-per-conversation quota
MAX_FILE_MIB = 100  # the seeded tenant's default largest file
WARMUP_BYTES = 2 * MIB + 1
TRANSFER_TIMEOUT = 600.0
SETUP_TIMEOUT = 60.0
SAMPLE_SECONDS = 0.05
MAX_SAMPLES = 200_000  # about 2.8 hours at 50 ms: the sampler stops by itself after that
SETTLE_SECONDS = 2.0
# Media go to local disk in the temp folder unless --media env keeps these from the environment.
MEDIA_ENV = ("MEDIA_ROOT", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_REGION")


def mb_per_s(size: int, seconds: float) -> float:
    """Return SIZE bytes over SECONDS in MB/s."""
    return size / MB / seconds if seconds > 0 else float("inf")


def own_cpu_seconds() -> float:
    """Return the user plus system CPU time this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Part 1: the cipher alone.


def timed(action: Callable[[], object]) -> float:
    """Return the seconds ACTION took."""
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def cipher_round(chunks: list[bytes], size: int) -> dict[str, float]:
    """Encrypt and decrypt CHUNKS once; return the seconds of each step."""
    encryptor = protocol.FileEncryptor(size)
    parts: list[bytes] = []

    def encrypt() -> None:
        parts.extend(encryptor.encrypt(i, chunk) for i, chunk in enumerate(chunks))
        encryptor.hash()

    seconds = {"FileEncryptor.encrypt + hash()": timed(encrypt)}
    announced = encryptor.announcement(str(uuid.uuid4()), "bench.bin", "x/y")
    decryptor = protocol.FileDecryptor(announced)

    def decrypt() -> None:
        for i, part in enumerate(parts):
            decryptor.decrypt(i, part)
        decryptor.finish()

    seconds["FileDecryptor.decrypt + finish()"] = timed(decrypt)
    nonce = bytes(24)
    key = bytes(32)
    seconds["crypto_secretbox_easy alone"] = timed(
        lambda: [nacl.bindings.crypto_secretbox_easy(c, nonce, key) for c in chunks]
    )
    nonces = [
        protocol.file_nonce(encryptor.prefix, i, i == len(parts) - 1) for i in range(len(parts))
    ]
    seconds["crypto_secretbox_open_easy alone"] = timed(
        lambda: [
            nacl.bindings.crypto_secretbox_open_easy(p, n, encryptor.key)
            for p, n in zip(parts, nonces, strict=True)
        ]
    )
    seconds["hashlib.sha512 of each part alone"] = timed(
        lambda: [hashlib.sha512(p).digest() for p in parts]
    )
    return seconds


def cipher_bench(size_mib: int, repeats: int) -> None:
    """Print FileEncryptor/FileDecryptor throughput over SIZE_MIB MiB of random data."""
    size = size_mib * MIB
    log(f"generating {size_mib} MiB of random data")
    chunks = [os.urandom(protocol.CHUNK_SIZE) for _ in range(size // protocol.CHUNK_SIZE)]
    cipher_round(chunks[:4], 4 * protocol.CHUNK_SIZE)  # warm-up: imports, allocator
    busy = wait_until_quiet()
    rounds = [cipher_round(chunks, size) for _ in range(repeats)]
    print(
        f"\n## Python cipher: {size_mib} MiB ({size / MB:.1f} MB) of random data in 1 MiB "
        f"chunks, {repeats} rounds (PyNaCl {nacl.__version__}, libsodium)\n\n{machine_line(busy)}\n"
    )
    print("| step | median MB/s | best MB/s | worst MB/s |")
    print("| --- | ---: | ---: | ---: |")
    for step in rounds[0]:
        rates = [mb_per_s(size, r[step]) for r in rounds]
        print(f"| {step} | {statistics.median(rates):.0f} | {max(rates):.0f} | {min(rates):.0f} |")


# Part 2: a file through Daphne.


@dataclass
class RssSampler:
    """Samples a process's VmRSS (KiB) every SAMPLE_SECONDS in a thread, labelled by phase."""

    pid: int
    phase: str = "setup"
    samples: list[tuple[float, str, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def status_kib(self, name: str) -> int:
        """Return one `kB` field of /proc/<pid>/status, such as VmRSS or VmHWM."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
        raise KeyError(name)

    def reset_peak(self) -> bool:
        """Reset the kernel's VmHWM to the current RSS (proc(5), clear_refs 5); False if refused."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def _run(self) -> None:
        for _ in range(MAX_SAMPLES):
            try:
                rss = self.status_kib("VmRSS")
            except (OSError, KeyError):
                return  # the process ended
            self.samples.append((time.monotonic(), self.phase, rss))
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def start(self) -> None:
        """Start sampling."""
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def write_csv(self, path: Path) -> None:
        """Write every sample as seconds from the first, phase and VmRSS in KiB."""
        first = self.samples[0][0] if self.samples else 0.0
        lines = ["seconds,phase,vmrss_kib"]
        lines += [f"{t - first:.3f},{phase},{rss}" for t, phase, rss in self.samples]
        path.write_text("\n".join(lines) + "\n")

    def of(self, phase: str) -> list[int]:
        """Return the RSS samples (KiB) taken during PHASE."""
        return [rss for _, label, rss in self.samples if label == phase]


def kib_mb(kib: float) -> float:
    """Return KiB as MB."""
    return kib * 1024 / MB


@dataclass
class Transfer:
    """One direction of one file's journey, with the time and CPU it took."""

    label: str
    size: int
    seconds: float
    client_cpu: float
    server_cpu: float
    other_cpu: float  # every other process of the machine: should be near 0
    rss_before_kib: int
    rss_peak_kib: int


async def timed_transfer(
    label: str,
    size: int,
    sampler: RssSampler,
    server_pid: int,
    action: Callable[[], Any],
) -> Transfer:
    """Run ACTION (a coroutine function) in phase LABEL; return its time, CPU and peak RSS."""
    before = sampler.status_kib("VmRSS")
    sampler.phase = label
    machine = machine_busy_seconds()
    client, server = own_cpu_seconds(), process_cpu_seconds(server_pid)
    began = time.perf_counter()
    await asyncio.wait_for(action(), TRANSFER_TIMEOUT)
    seconds = time.perf_counter() - began
    client_cpu = own_cpu_seconds() - client
    server_cpu = process_cpu_seconds(server_pid) - server
    other_cpu = machine_busy_seconds() - machine - client_cpu - server_cpu
    await asyncio.sleep(2 * SAMPLE_SECONDS)  # the sample after the last part
    sampler.phase = "between"
    peak = max(sampler.of(label), default=0)
    return Transfer(label, size, seconds, client_cpu, server_cpu, other_cpu, before, peak)


def random_file(path: Path, size: int) -> str:
    """Write SIZE random bytes to PATH a MiB at a time; return their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as target:
        for offset in range(0, size, MIB):
            block = os.urandom(min(MIB, size - offset))
            digest.update(block)
            target.write(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, read a MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


async def announced(chat: ConversationClient, upload: str) -> dict[str, str]:
    """Wait until CHAT shows the announcement of UPLOAD and return it."""

    def find() -> dict[str, str] | None:
        return next(
            (m for m in chat.messages() if m["type"] == "file" and m["file"] == upload), None
        )

    await chat.wait_until(lambda: find() is not None, SETUP_TIMEOUT)
    found = find()
    assert found is not None  # noqa: S101 (wait_until returned, so it is there)
    return found


async def pass_file(
    customer: Customer,
    agent: AgentClient,
    chat: ConversationClient,
    workdir: Path,
    size: int,
    label: str,
    sampler: RssSampler | None = None,
    server_pid: int = 0,
) -> list[Transfer]:
    """Customer uploads SIZE random bytes, the agent downloads them; check and time both."""
    sent, received = workdir / f"{label}.bin", workdir / f"{label}-received.bin"
    expected = await asyncio.to_thread(random_file, sent, size)
    result: dict[str, str] = {}

    async def upload() -> None:
        result.update(await customer.files.upload(customer, sent))

    async def download() -> None:
        await agent.files.download(await announced(chat, result["file"]), received)

    transfers = []
    if sampler is None:
        await asyncio.wait_for(upload(), TRANSFER_TIMEOUT)
        await asyncio.wait_for(download(), TRANSFER_TIMEOUT)
    else:
        transfers.append(await timed_transfer(f"{label} up", size, sampler, server_pid, upload))
        transfers.append(await timed_transfer(f"{label} down", size, sampler, server_pid, download))
    if await asyncio.to_thread(file_sha256, received) != expected:
        raise RuntimeError(f"{label}: the downloaded file differs from the uploaded one")
    sent.unlink()
    received.unlink()
    return transfers


def server_env(backend: Backend, media: str) -> dict[str, str]:
    """Return the server's environment: media on local disk below the data folder by default."""
    env = backend.env()
    if media == "local":
        for name in MEDIA_ENV:
            env.pop(name, None)
    return env


def server_env_option(value: str) -> tuple[str, str]:
    """Parse NAME=VALUE for --server-env."""
    name, equals, setting = value.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, setting


async def transfer_bench(args: argparse.Namespace) -> None:
    """Print upload and download throughput and Daphne's RSS while the file passes."""
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="sealdesk-bench-") as tmp:
        workdir = Path(tmp)
        backend = Backend(workdir / "data", args.database_url, args.redis_url)
        log(f"setting up {backend.describe()}")
        await asyncio.to_thread(backend.reset)
        seed = json.loads(
            await asyncio.to_thread(
                backend.seed, "--agents", "1", "--chats-per-agent", "1", "--origin", ORIGIN
            )
        )
        server = Daphne(
            "contactcenter.asgi:application",
            {**server_env(backend, args.media), **dict(args.server_env)},
            workdir / "daphne.log",
        )
        await asyncio.to_thread(server.start)
        sampler = RssSampler(server.pid)
        sampler.start()
        customer = Customer(server.url, seed["widget_id"], ORIGIN)
        agent = AgentClient(server.url, seed["agents"][0], seed["password"])
        recorder = None
        try:
            await asyncio.wait_for(agent.login(), SETUP_TIMEOUT)
            await asyncio.wait_for(agent.connect(), SETUP_TIMEOUT)
            await agent.set_presence("available")
            await asyncio.wait_for(customer.start(seed["teams"][0], PRECHAT), SETUP_TIMEOUT)
            chat = await agent.accept_next_offer(SETUP_TIMEOUT)
            started_kib = sampler.status_kib("VmRSS")
            log(f"warm-up: a {WARMUP_BYTES} byte file both ways")
            sampler.phase = "warm-up"
            await pass_file(customer, agent, chat, workdir, WARMUP_BYTES, "warm-up")
            sampler.phase = "baseline"
            await asyncio.sleep(SETTLE_SECONDS)
            baseline = max(sampler.of("baseline"))
            hwm_reset = sampler.reset_peak()
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                recorder = await start_py_spy(server.pid, args.profile / "daphne-files.txt")
            busy = await asyncio.to_thread(wait_until_quiet)
            transfers: list[Transfer] = []
            for run in range(1, args.repeats + 1):
                log(f"run {run}: {args.size_mib} MiB up and down")
                transfers += await pass_file(
                    customer, agent, chat, workdir, size, f"run {run}", sampler, server.pid
                )
            if recorder is not None:
                await stop_py_spy(recorder)
                log(f"py-spy recording in {args.profile / 'daphne-files.txt'}")
            sampler.phase = "after"
            await asyncio.sleep(SETTLE_SECONDS)
            after = statistics.median(sampler.of("after"))
            hwm = sampler.status_kib("VmHWM")
        except BaseException:
            log(f"the server's log ended with:\n{server.log_tail()}")
            raise
        finally:
            sampler.stop()
            if args.rss_csv is not None:
                sampler.write_csv(args.rss_csv)
            if recorder is not None and recorder.returncode is None:
                await stop_py_spy(recorder)
            await asyncio.gather(customer.close(), agent.close(), return_exceptions=True)
            await asyncio.to_thread(server.stop)

    report(args, backend, transfers, started_kib, baseline, hwm if hwm_reset else None, after, busy)


def report(
    args: argparse.Namespace,
    backend: Backend,
    transfers: list[Transfer],
    started_kib: int,
    baseline: int,
    hwm: int | None,
    after: float,
    busy: float,
) -> None:
    """Print the transfer table, Daphne's memory and the verdict."""
    size = args.size_mib * MIB
    media = "local disk" if args.media == "local" else "storage from the environment"
    extra = "".join(f"; server env {name}={value}" for name, value in args.server_env)
    print(
        f"\n## {args.size_mib} MiB ({size / MB:.1f} MB) file through one Daphne process: "
        f"{backend.describe()}, media on {media}{extra}; Python client (customer uploads, "
        f"agent downloads) on the same machine\n\n{machine_line(busy)}\n"
    )
    print(
        "| transfer | seconds | MB/s | client CPU s | Daphne CPU s | others' CPU s "
        "| Daphne RSS before MB | Daphne peak RSS MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for t in transfers:
        print(
            f"| {t.label} | {t.seconds:.2f} | {mb_per_s(t.size, t.seconds):.1f} "
            f"| {t.client_cpu:.2f} | {t.server_cpu:.2f} | {t.other_cpu:.2f} "
            f"| {kib_mb(t.rss_before_kib):.1f} | {kib_mb(t.rss_peak_kib):.1f} |"
        )
    print()
    for direction in ("up", "down"):
        rates = [mb_per_s(t.size, t.seconds) for t in transfers if t.label.endswith(direction)]
        print(f"{direction}load median: {statistics.median(rates):.1f} MB/s")
    # One file is its upload and its download; its growth is its peak over the RSS before it.
    files = list(zip(transfers[::2], transfers[1::2], strict=True))
    growths = [max(up.rss_peak_kib, down.rss_peak_kib) - up.rss_before_kib for up, down in files]
    peak = max(t.rss_peak_kib for t in transfers)
    print("\n| Daphne VmRSS | MB |")
    print("| --- | ---: |")
    print(f"| after setup, before the warm-up file | {kib_mb(started_kib):.1f} |")
    print(
        f"| baseline: after the warm-up file (max over {SETTLE_SECONDS:.0f} s) | "
        f"{kib_mb(baseline):.1f} |"
    )
    print(
        f"| peak while the files passed (samples every {SAMPLE_SECONDS * 1000:.0f} ms) | "
        f"{kib_mb(peak):.1f} |"
    )
    if hwm is not None:
        print(
            f"| peak while the files passed (kernel VmHWM, reset at baseline) | {kib_mb(hwm):.1f} |"
        )
    print(f"| after the last file (median over {SETTLE_SECONDS:.0f} s) | {kib_mb(after):.1f} |")
    print()
    for (up, _), growth in zip(files, growths, strict=True):
        print(
            f"{up.label.removesuffix(' up')}: peak {kib_mb(growth):+.1f} MB over the RSS before it"
        )
    overall = max(peak, hwm or 0) - baseline
    print(f"all {len(files)} files: peak {kib_mb(overall):+.1f} MB over the baseline")
    worst = max(growths)
    verdict = "met" if kib_mb(worst) < TARGET_RSS_GROWTH_MB else "missed"
    print(
        f"\ntarget: Daphne's memory grows by less than {TARGET_RSS_GROWTH_MB:.0f} MB while a "
        f"{size / MB:.0f} MB file passes: at most {kib_mb(worst):+.1f} MB per file: {verdict}"
    )


def main() -> None:
    """Parse the arguments and run the benchmarks."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size-mib",
        type=int,
        default=100,
        help=f"File size in MiB, 1 to {MAX_FILE_MIB} (the tenant's default limit) (100).",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="Cipher rounds and files sent (default 3)."
    )
    parser.add_argument(
        "--only",
        choices=("cipher", "transfer"),
        help="Run only the cipher benchmark or only the transfer through Daphne.",
    )
    parser.add_argument(
        "--database-url", default="", help="Use this PostgreSQL (flushed) instead of SQLite."
    )
    parser.add_argument(
        "--redis-url", default="", help="Use this Redis instead of the in-memory channel layer."
    )
    parser.add_argument(
        "--media",
        choices=("local", "env"),
        default="local",
        help="local: media on disk in the temp folder (default); env: keep MEDIA_ROOT and "
        "S3_* from the environment (an S3-compatible bucket, as in the scale-out config).",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="Record Daphne with py-spy while the files pass, as collapsed stacks in "
        "PROFILE/daphne-files.txt (summarise with bench.profile_summary).",
    )
    parser.add_argument(
        "--rss-csv", type=Path, help="Also write every VmRSS sample of Daphne to this CSV file."
    )
    parser.add_argument(
        "--server-env",
        type=server_env_option,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Set an environment variable for Daphne (repeatable), e.g. MALLOC_ARENA_MAX=2.",
    )
    args = parser.parse_args()
    if not 1 <= args.size_mib <= MAX_FILE_MIB:
        parser.error(f"--size-mib must be between 1 and {MAX_FILE_MIB}")
    if not 1 <= args.repeats <= 10:
        parser.error("--repeats must be between 1 and 10")
    stored = protocol.FileEncryptor(args.size_mib * MIB).chunks * 16 + args.size_mib * MIB
    if args.only != "cipher" and args.repeats * stored + WARMUP_BYTES + 64 > QUOTA_BYTES:
        parser.error("the files would not fit in one conversation's 500 MiB quota")
    if args.only != "transfer":
        cipher_bench(args.size_mib, args.repeats)
    if args.only != "cipher":
        asyncio.run(transfer_bench(args))


if __name__ == "__main__":
    main()
