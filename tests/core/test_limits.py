"""core/limits.py: a declared size over a limit is refused before anything is allocated, with a message
that names the limit and how to raise it."""

from __future__ import annotations

import pytest

from workbench.core import limits
from workbench.core.limits import LimitExceeded


def test_within_the_limit_returns_the_value() -> None:
    assert limits.CLASSES.check(3) == 3
    assert limits.DECLARED_BYTES.check(limits.DECLARED_BYTES.value) == limits.DECLARED_BYTES.value


def test_a_size_over_the_limit_names_it_in_bytes() -> None:
    with pytest.raises(LimitExceeded) as caught:
        limits.DECLARED_BYTES.check(3 * limits.GiB, source="model.pkl")
    err = caught.value
    assert err.kind == "limit" and err.declared == 3 * limits.GiB
    assert err.message == ("model.pkl: a declared length is 3.0 GiB (3221225472 bytes), over the limit of "
                           "1.0 GiB (1073741824 bytes) (declared_bytes)")
    assert err.hint == "if this is genuine, raise it with WORKBENCH_LIMIT_DECLARED_BYTES"


def test_a_count_over_the_limit_is_said_as_a_count() -> None:
    with pytest.raises(LimitExceeded, match=r"the number of classes is 300000000, over the limit of 100000 "
                                            r"\(classes\) "):
        limits.CLASSES.check(300_000_000)


def test_a_negative_size_is_damage_not_a_limit() -> None:
    with pytest.raises(LimitExceeded, match="declared as -5, which is not a size") as caught:
        limits.RESPONSE_BYTES.check(-5)
    assert caught.value.hint == "the file or answer is damaged"


def test_the_environment_raises_a_limit_and_ignores_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_LIMIT_CLASSES", "500000000")
    assert limits.CLASSES.check(300_000_000) == 300_000_000
    for bad in ("lots", "-1", "0"):
        monkeypatch.setenv("WORKBENCH_LIMIT_CLASSES", bad)
        assert limits.CLASSES.value == limits.CLASSES.default
