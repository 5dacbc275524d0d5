"""The benchmark's one entry: ``python -m bench [SCENARIO] [options]`` (``./scripts/bench``).

This module is the command line: which scenarios there are, their options and defaults.
bench/README.md says what each measures and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from . import appconfig
from .report import progress
from .servers import ROOT, VARIANTS, kill_all

SCENARIOS = {
    "relay": "the default: the app beside the reference relays at N streams each, "
    "then admission (CPU per chunk, relay delay, RSS)",
    "memory": "RSS per open stream: the app at N = 200, a few fresh runs",
    "request": "CPU per request through the real app; with --signed-in or --app-setting "
    "also what that feature adds",
    "listing": "latency of the sidebar's query (50 of 10,000 conversations) on SQLite",
    "instructions": "instructions per chunk of the app's relay path, counted by valgrind's "
    "callgrind (repeatable where timings are not)",
}
DEFAULT_SCENARIO = "relay"


def _int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return values


def _variants(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"variants are {', '.join(VARIANTS)}")
    return names


def _streams_options(parser: argparse.ArgumentParser, variants: str, n: str) -> None:
    parser.add_argument("--variants", type=_variants, default=_variants(variants))
    parser.add_argument("--n", type=_int_list, default=None, help=f"concurrent streams ({n})")
    parser.add_argument("--tokens", type=int, default=None, help="token chunks per stream (200)")
    parser.add_argument("--interval-ms", type=int, default=20, help="between chunks (20)")
    parser.add_argument("--ramp-s", type=float, default=1.0, help="streams start over this")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="streamchat's benchmark. Without a scenario: relay.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results", help="(bench/results)"
    )
    appconfig.add_arguments(common)
    scenarios = parser.add_subparsers(dest="scenario", metavar="SCENARIO")

    relay = scenarios.add_parser("relay", parents=[common], help=SCENARIOS["relay"])
    _streams_options(relay, ",".join(VARIANTS), "1,100,200,500")
    relay.add_argument("--quick", action="store_true", help="N 1,20, 40 tokens")
    relay.add_argument("--no-plot", action="store_true", help="no relay.png")
    relay.add_argument("--skip-admission", action="store_true")
    relay.add_argument("--admission-capacity", type=int, default=None, metavar="K")
    relay.set_defaults(quick_n="1,20", full_n="1,100,200,500", quick_tokens=40)

    memory = scenarios.add_parser("memory", parents=[common], help=SCENARIOS["memory"])
    _streams_options(memory, "app", "200")
    memory.add_argument("--repeat", type=int, default=3, help="fresh runs per variant (3)")
    memory.add_argument("--quick", action="store_true", help="N 50, 40 tokens, once")
    memory.set_defaults(quick_n="50", full_n="200", quick_tokens=40)

    request = scenarios.add_parser("request", parents=[common], help=SCENARIOS["request"])
    request.add_argument("--requests", type=int, default=200, help="per batch (200)")
    request.add_argument("--rounds", type=int, default=5, help="batches per case (5)")
    request.add_argument("--rate", type=float, default=100.0, help="requests per second (100)")
    request.add_argument("--quick", action="store_true", help="50 requests, 2 rounds")
    request.add_argument(
        "--conversation",
        action="store_true",
        help="with --signed-in: both cases signed in, the second's turns kept in a conversation",
    )

    listed = scenarios.add_parser("listing", parents=[common], help=SCENARIOS["listing"])
    listed.add_argument("--conversations", type=int, default=10_000, help="kept (10,000)")
    listed.add_argument("--requests", type=int, default=500, help="pages asked for (500)")

    counted = scenarios.add_parser("instructions", parents=[common], help=SCENARIOS["instructions"])
    counted.add_argument(
        "--chunks", type=_int_list, default=[100, 1100], help="short,long stream (100,1100)"
    )
    counted.add_argument("--quick", action="store_true", help="20,220 chunks")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The scenario and its options; no scenario named means relay."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = [DEFAULT_SCENARIO, *argv]
    parser = _parser()
    args = parser.parse_args(argv)
    if args.scenario is None:
        parser.error("name a scenario")
    if args.scenario in ("relay", "memory"):
        if args.n is None:
            args.n = _int_list(args.quick_n if args.quick else args.full_n)
        if args.tokens is None:
            args.tokens = args.quick_tokens if args.quick else 200
        if args.tokens < 1 or args.interval_ms < 1 or args.ramp_s < 0:
            parser.error("--tokens and --interval-ms must be at least 1, --ramp-s not negative")
    capacity = getattr(args, "admission_capacity", None)  # relay's option only
    if capacity is not None and capacity < 1:
        parser.error("--admission-capacity must be at least 1")
    if args.scenario == "memory":
        args.repeat = 1 if args.quick else args.repeat
    if args.scenario == "instructions":
        args.chunks = [20, 220] if args.quick else args.chunks
        if len(args.chunks) != 2 or args.chunks[0] >= args.chunks[1]:
            parser.error("--chunks is two counts, the short stream's first: SHORT,LONG")
    if args.scenario == "request":
        if args.quick:
            args.requests, args.rounds = 50, 2
        if args.requests < 1 or args.rounds < 1 or args.rate <= 0:
            parser.error("--requests, --rounds and --rate must be positive")
        if args.conversation and not args.signed_in:
            parser.error("--conversation needs --signed-in: conversations belong to someone")
    return args


async def _scenario(args: argparse.Namespace) -> int:
    from . import instructions, listing, request, sweep

    # SIGTERM ends a scenario like Ctrl-C: cancelled, servers stopped in finally blocks.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    run = {
        "relay": sweep.relay,
        "memory": sweep.memory,
        "request": request.request,
        "listing": listing.listing,
        "instructions": instructions.instructions,
    }[args.scenario]
    return await run(args)


def main(argv: list[str] | None = None) -> int:
    """Run the scenario ``argv`` names; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import uvloop  # the harness plays upstream and all clients on one core
    except ImportError:
        uvloop = asyncio
    try:
        return uvloop.run(_scenario(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted: no results written")
        return 130
    finally:
        kill_all()  # whatever the way out, no server is left behind


if __name__ == "__main__":
    sys.exit(main())
