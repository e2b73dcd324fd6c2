import warnings

import pytest

from greenlab.measurement import claims


@pytest.fixture(autouse=True)
def no_log(monkeypatch):
    """These tests' claims are not the run's: keep them out of the log the test run lists at its end."""
    monkeypatch.delenv(claims.LOG, raising=False)


def test_a_claim_that_holds_says_nothing(monkeypatch):
    monkeypatch.setenv(claims.STRICT, "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert claims.expect(2.4 > 1.3, "the cache to be faster", "2.4×") is None  # a cell ending with it shows none


def test_under_the_test_suite_a_claim_that_does_not_hold_fails(monkeypatch):
    monkeypatch.setenv(claims.STRICT, "1")
    with pytest.raises(AssertionError, match=r"expects the cache to be over 1\.3× faster, but this run measured 1\.1×"):
        claims.expect(1.1 > 1.3, "the cache to be over 1.3× faster", "1.1×")


@pytest.mark.parametrize("setting", ["", "0", "no"])
def test_in_a_learners_notebook_it_warns_with_what_to_do_and_goes_on(monkeypatch, tmp_path, setting):
    monkeypatch.setenv(claims.STRICT, setting)
    monkeypatch.setenv(claims.LOG, str(tmp_path / "claims.log"))
    with pytest.warns(claims.ClaimWarning, match="close other programs and run the cell again"):
        claims.expect(False, "the cache to be over 1.3× faster", "1.1×")
    assert (tmp_path / "claims.log").read_text() == "the cache to be over 1.3× faster | measured 1.1×\n"


def test_without_the_setting_a_learner_is_never_stopped(monkeypatch):
    monkeypatch.delenv(claims.STRICT, raising=False)
    with pytest.warns(claims.ClaimWarning):
        claims.expect(False, "x", "y")
