"""Two transactions at the same moment, in the order that hurts."""
import threading


def while_first_is_uncommitted(runtime, first, second, hold_seconds: float = 0.5) -> None:
    """`first` runs in a transaction that stays open after its work until
    `second`, in another thread, has run (or `hold_seconds` passed): whatever
    `second` reads or writes, it does so before `first` commits."""
    first_done, second_done = threading.Event(), threading.Event()
    failures = []

    def run_first():
        try:
            with runtime.connection(), runtime.db.atomic():
                first()
                first_done.set()
                second_done.wait(hold_seconds)
        except BaseException as error:
            failures.append(error)
            first_done.set()

    def run_second():
        first_done.wait(30)
        try:
            second()
        except BaseException as error:
            failures.append(error)
        finally:
            second_done.set()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if failures:
        raise failures[0]


def at_once(calls) -> list:
    """Runs every call in a thread of its own, all released together; their
    results in the order of `calls` (an exception raised is re-raised)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    failures = []

    def run(index, call):
        try:
            barrier.wait(30)
            results[index] = call()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if failures:
        raise failures[0]
    return results
