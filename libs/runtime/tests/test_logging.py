"""Every line a service writes is one JSON object with its service, level and time, the
libraries' own records (aiokafka, grpc, asyncio) included."""

import logging
import threading
from collections.abc import Iterator

import orjson
import pytest
import structlog

from fairtask_runtime.logging import configure_logging


@pytest.fixture
def configured() -> Iterator[None]:
    """Puts logging back as it was after the test, which configures it itself: in the test's
    body, where stderr is the captured one (the handlers keep the stream they are given)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def lines(err: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in err.splitlines()]


def test_a_library_record_is_a_json_line_with_its_logger_and_traceback(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("payroll")
    logging.getLogger("aiokafka").error("Unable connect to node with id %s: %s", 1, "refused")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    logging.getLogger("aiokafka").info("below the level: dropped")

    first, second = lines(capsys.readouterr().err)
    assert first["event"] == "Unable connect to node with id 1: refused"
    assert (first["service"], first["level"], first["logger"]) == ("payroll", "error", "aiokafka")
    assert str(first["timestamp"]).endswith("Z")
    assert second["logger"] == "asyncio"
    assert "ZeroDivisionError: division by zero" in str(second["exception"])


def test_a_record_from_another_thread_names_the_service_too(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("payroll")
    thread = threading.Thread(target=lambda: logging.getLogger("grpc").warning("from a thread"))
    thread.start()
    thread.join()
    [line] = lines(capsys.readouterr().err)
    assert (line["event"], line["service"], line["logger"]) == ("from a thread", "payroll", "grpc")


def test_the_services_own_records_keep_their_fields(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("payroll")
    structlog.get_logger("payroll").warning("hold released", task_id="t-1")
    [line] = lines(capsys.readouterr().err)
    assert (line["event"], line["task_id"], line["service"]) == ("hold released", "t-1", "payroll")
