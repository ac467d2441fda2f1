import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import traffic


class Command(BaseCommand):
    help = (
        "Send demo traffic to the running app: rows of the demo dataset to /api/v1/predict, shifted after a "
        "while so the drift check sees it, and the true labels of a share of them to /api/v1/feedback."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", help=f"the app's address (default {traffic.default_url()}, from PORT)")
        parser.add_argument(
            "--rate", type=float, default=traffic.DEFAULT_RATE, help="prediction requests per second (default 20)"
        )
        parser.add_argument("--rows-per-request", type=int, default=1, help="rows in each request (default 1)")
        parser.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
        shift = parser.add_mutually_exclusive_group()
        shift.add_argument(
            "--shift-after",
            type=float,
            default=traffic.DEFAULT_SHIFT_AFTER,
            help="seconds of un-shifted traffic before the shift (default 60; 0 shifts from the start)",
        )
        shift.add_argument("--shift-after-requests", type=int, help="shift after this many requests instead")
        shift.add_argument("--no-shift", action="store_true", help="never shift: traffic like the training data")
        parser.add_argument(
            "--label-share",
            type=float,
            default=traffic.DEFAULT_LABEL_SHARE,
            help="share of predictions whose true label is posted as feedback (default 0.3)",
        )
        parser.add_argument(
            "--api-key", help="API key to send; without one, a key is created in this database if the app requires it"
        )
        parser.add_argument(
            "--seed", type=int, default=traffic.DEFAULT_SEED, help="seed of the rows and labels drawn (default 0)"
        )
        parser.add_argument(
            "--dataset",
            choices=sorted(traffic.SHIFTS),
            help="demo dataset to draw rows from (default: the one whose columns the served model takes)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        settings = traffic.Options(
            url=options["url"] or traffic.default_url(),
            rate=options["rate"],
            rows_per_request=options["rows_per_request"],
            duration=options["duration"],
            shift_after=None
            if options["no_shift"] or options["shift_after_requests"] is not None
            else options["shift_after"],
            shift_after_requests=options["shift_after_requests"],
            label_share=options["label_share"],
            api_key=options["api_key"],
            seed=options["seed"],
            dataset=options["dataset"],
        )
        # Ctrl-C, or a terminated command (kill, a process manager): labels posted, totals printed.
        stop = threading.Event()

        def interrupt(signum: int, frame: FrameType | None) -> None:
            # The flag stops the traffic even where Python drops the exception raised here (a signal
            # landing in an object's finalizer); the exception cuts a waiting request short. A second
            # signal, while the labels are posted, quits at once.
            stop.set()
            raise KeyboardInterrupt

        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            traffic.run(settings, write=self._line, stop=stop)
        except traffic.TrafficError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted") from None
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _line(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
