"""course serve [--exchange DIR] [--out DIR] [--workers N] [--per-hour N] [--policy FILE] [--db URL]"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from autograder.commands.grade import positive
from autograder.config import COURSE_ID, EXCHANGE_DIR, EXCHANGE_ENV, ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exchange",
        type=Path,
        default=Path(os.environ.get(EXCHANGE_ENV) or ROOT / EXCHANGE_DIR),
        help=f"nbgrader's exchange root (default: ${EXCHANGE_ENV}, else the course's {EXCHANGE_DIR})",
    )
    parser.add_argument("--course-id", default=COURSE_ID, help=f"default {COURSE_ID}")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("grading-service"),
        help="the service's folder: its course, gradebook and journal (keep it across restarts)",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("COURSE_DB"),
        help="gradebook URL (default: $COURSE_DB, the hub's course gradebook, else sqlite in --out)",
    )
    parser.add_argument(
        "--workers", type=positive(int), default=2, help="warm grading workers (default 2)"
    )
    parser.add_argument(
        "--per-hour",
        type=positive(int),
        default=10,
        help="graded submissions one learner may have in an hour (default 10)",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help='JSON per assignment: {"<lesson>": {"deadline": "...", "feedback": "at-deadline"}}',
    )
    parser.add_argument(
        "--private-feedback",
        action="store_true",
        help="hand each learner's feedback to that learner's group only (the hub's exchange)",
    )
    parser.add_argument(
        "--lessons", nargs="+", default=None, help="grade only these lessons (default: all)"
    )
    parser.add_argument("--no-sandbox", action="store_true", help="kernels unconfined")
    parser.add_argument("--cell-timeout", type=positive(int), default=60)
    parser.add_argument("--notebook-timeout", type=positive(int), default=600)
    parser.add_argument("--memory", type=positive(float), default=2.0, help="GiB per kernel")
    parser.add_argument("--threads", type=positive(int), default=None)


def run(args: argparse.Namespace) -> int:
    from autograder.grading.jobs import Limits
    from autograder.grading.service import GradingService, Policy, serve

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stdout, force=True
    )
    logging.getLogger("course.serve").setLevel(logging.INFO)
    try:
        policy = Policy.load(args.policy)
    except (OSError, ValueError) as exc:
        print(f"course serve: {exc}")
        return 2
    release_class = None
    if args.private_feedback:
        from autograder.lab.hub import PrivateReleaseFeedback as release_class
    service = GradingService(
        args.exchange,
        args.out,
        db_url=args.db,
        workers=args.workers,
        per_hour=args.per_hour,
        policy=policy,
        sandbox=not args.no_sandbox,
        limits=Limits(args.cell_timeout, args.notebook_timeout, int(args.memory * (1 << 30))),
        threads=args.threads,
        course_id=args.course_id,
        release_class=release_class,
        only=args.lessons,
    )
    print(
        f"course serve: grading {service.inbound} into {service.out} "
        f"({args.workers} workers, {args.per_hour} per learner per hour)",
        flush=True,
    )
    try:
        return serve(service)
    except (ValueError, FileNotFoundError) as exc:
        print(f"course serve: {exc}")
        return 2
