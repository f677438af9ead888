import pytest
import torch

from course_utils.checks import CheckFailure, check_tensor, check_value
from course_utils.i18n import Msg

EXPECTED = torch.tensor([1.0, -2.0, 3.0])


def diagnosis(actual, expected=EXPECTED, **kw) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        check_tensor(actual, expected, name="x.grad", **kw)
    return info.value


def test_right_answer_passes_within_tolerance():
    check_tensor(EXPECTED + 1e-7, EXPECTED)


def test_none_means_a_missing_return():
    err = diagnosis(None)
    assert "return" in err.msg.en and "return" in err.msg.zh


def test_list_instead_of_tensor():
    assert "torch.Tensor" in diagnosis([1.0, -2.0, 3.0]).msg.en


def test_wrong_shape_names_both_shapes():
    err = diagnosis(EXPECTED.reshape(3, 1))
    assert "(3,)" in err.msg.en and "(3, 1)" in err.msg.en and "形状" in err.msg.zh


def test_wrong_dtype():
    err = diagnosis(torch.tensor([1, -2, 3]))
    assert "torch.int64" in err.msg.en and "数据类型" in err.msg.zh


def test_nan_is_reported():
    assert "NaN" in diagnosis(torch.tensor([1.0, float("nan"), 3.0])).msg.en


def test_lists_the_wrong_elements_and_the_largest_difference():
    err = diagnosis(torch.tensor([1.0, -2.0, 4.5]))
    assert "1 of 3" in err.msg.en
    assert "index 2" in err.msg.en and "expected 3" in err.msg.en and "got 4.5" in err.msg.en
    assert "1.5" in err.msg.en
    assert "下标 2" in err.msg.zh


def test_sign_flip_is_recognised():
    assert "sign" in diagnosis(-EXPECTED).msg.en


def test_accumulated_gradient_is_recognised():
    err = diagnosis(2 * EXPECTED)
    assert "2×" in err.msg.en and "backward()" in err.msg.en and "累加" in err.msg.zh


def test_hint_is_appended_in_both_languages():
    err = diagnosis(EXPECTED + 1, hint=Msg("use 9a²", "用 9a²"))
    assert err.msg.en.endswith("use 9a²") and err.msg.zh.endswith("用 9a²")


def test_patched_allclose_does_not_fool_the_check(monkeypatch):
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch, "isclose", lambda a, b, **k: torch.ones_like(a, dtype=torch.bool))
    diagnosis(EXPECTED + 1)


def test_check_value_kinds():
    check_value(3, 3)
    check_value(torch.tensor(2.5), 2.5)
    check_value(True, True)
    for actual, expected in [(4, 3), (3.0, 3), (1, True), (True, 1), (2.4, 2.5)]:
        with pytest.raises(CheckFailure):
            check_value(actual, expected)


def test_no_graph_rejects_an_answer_still_in_the_graph():
    w = torch.ones(3, requires_grad=True)
    check_tensor((EXPECTED * w).detach(), EXPECTED, no_graph=True)
    for attached in (EXPECTED * w, EXPECTED.clone().requires_grad_(True)):
        check_tensor(attached, EXPECTED)  # without the flag only the numbers count
        with pytest.raises(CheckFailure) as info:
            check_tensor(attached, EXPECTED, name="out", no_graph=True)
        assert "torch.no_grad()" in info.value.msg.en and "计算图" in info.value.msg.zh


def test_no_graph_survives_the_graders_round_trip():
    from course_utils.exercises import decode, encode

    attached = EXPECTED * torch.ones(3, requires_grad=True)
    with pytest.raises(CheckFailure):
        check_tensor(decode(encode(attached)), EXPECTED, no_graph=True)
    check_tensor(decode(encode(attached.detach())), EXPECTED, no_graph=True)
    assert "requires_grad" not in encode(attached.detach())


def test_a_single_number_gets_no_constant_factor_guess():
    err = diagnosis(torch.tensor([0.9583]), torch.tensor([1.4583]))
    assert "constant factor" not in err.msg.en
    one_nonzero = diagnosis(torch.tensor([0.0, 0.7]), torch.tensor([0.0, 1.4]))
    assert "constant factor" not in one_nonzero.msg.en
    assert "constant factor" in diagnosis(0.5 * EXPECTED).msg.en


def test_an_imprecise_answer_is_told_so_not_given_a_factor_of_one():
    for close in (EXPECTED * (1 + 3e-6), EXPECTED + torch.tensor([2e-5, -1e-5, 3e-5])):
        err = diagnosis(close, rtol=1e-6, atol=1e-6)
        assert "outside the tolerance (rtol 1e-06)" in err.msg.en and "超出了容差" in err.msg.zh
        assert "constant factor" not in err.msg.en and "times 1" not in err.msg.en
    one = diagnosis(torch.tensor([1.0000031]), torch.tensor([1.0]), rtol=1e-6, atol=1e-6)
    assert "outside the tolerance" in one.msg.en
    assert "outside the tolerance" not in diagnosis(1.5 * EXPECTED).msg.en  # a real factor


def test_numbers_that_differ_are_printed_so_that_they_differ():
    err = diagnosis(
        torch.tensor([1.0, -2.0, 1.9042549]),
        torch.tensor([1.0, -2.0, 1.9042501]),
        rtol=1e-7,
        atol=0.0,
    )
    line = next(x for x in err.msg.en.splitlines() if "index 2" in x)
    want, got = line.split("expected ")[1].split(", got ")
    assert want != got, line


def test_the_no_graph_advice_fits_a_derivative_too():
    err = diagnosis(EXPECTED.clone().requires_grad_(True), no_graph=True)
    assert ".detach()" in err.msg.en and ".detach()" in err.msg.zh


def test_a_list_of_bools_is_compared_item_by_item():
    check_value([True, False, True], [True, False, True])
    check_value((True, False), [True, False])  # the grader's round trip makes a tuple
    cases = {
        "item 1": [True, True, True],
        "3 answers": [True, False],
        "Python bools": torch.tensor([True, False, True]),
    }
    for said, actual in cases.items():
        with pytest.raises(CheckFailure) as info:
            check_value(actual, [True, False, True], name="leaves")
        assert said in info.value.msg.en and "leaves" in info.value.msg.zh, info.value.msg.en
    with pytest.raises(CheckFailure) as info:
        check_value([1, 0, 1], [True, False, True])
    assert "int" in info.value.msg.en and "bool" in info.value.msg.zh
