"""Summarise a py-spy raw (collapsed stacks) recording: where the process spent its samples.

.venv/bin/python -m bench.profile_summary bench-profiles/SQLite-in-memory-layer-200-0.txt
"""

import argparse
import re
from collections import Counter
from pathlib import Path

LINE = re.compile(r":\d+\)$")  # a frame's line number: a function counts once, whatever its line


def main() -> None:
    """Print the functions with the most samples on top of the stack, and anywhere in it."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recording", type=Path, help="A file of `py-spy record --format raw`.")
    parser.add_argument("--top", type=int, default=25, help="Frames to list (25).")
    parser.add_argument(
        "--match", default="", help="List only inclusive frames containing this text."
    )
    args = parser.parse_args()
    on_top: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in args.recording.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        frames = [LINE.sub(")", frame) for frame in stack.split(";")]
        total += samples
        on_top[frames[-1]] += samples
        for frame in set(frames):  # a recursive frame counts once per sample
            anywhere[frame] += samples
    print(f"{total} samples\n\nself (on top of the stack):")
    for frame, samples in on_top.most_common(args.top):
        print(f"{samples / total:6.1%}  {frame}")
    print("\ninclusive (anywhere in the stack):")
    listed = [(f, n) for f, n in anywhere.most_common() if args.match in f][: args.top]
    for frame, samples in listed:
        print(f"{samples / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
