import pytest

from course_utils.i18n import Msg, current_lang, say

MSG = Msg("gradient", "梯度")


@pytest.mark.parametrize(
    ("lang", "shown", "hidden"),
    [("en", "gradient", "梯度"), ("zh", "梯度", "gradient"), ("both", "gradient\n梯度", None)],
)
def test_say_follows_course_lang(monkeypatch, capsys, lang, shown, hidden):
    monkeypatch.setenv("COURSE_LANG", lang)
    say(MSG)
    out = capsys.readouterr().out
    assert shown in out
    if hidden:
        assert hidden not in out


def test_default_and_unknown_language_show_both(monkeypatch):
    assert current_lang() == "both"
    monkeypatch.setenv("COURSE_LANG", "fr")
    assert MSG.render() == "gradient\n梯度"


def test_explicit_language_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")
    assert MSG.render("en") == "gradient"


def test_format_and_concatenation_keep_languages_apart():
    msg = Msg("{n} steps", "{n} 步").format(n=3) + Msg("done", "完成")
    assert msg.en == "3 steps\ndone"
    assert msg.zh == "3 步\n完成"


def test_say_refuses_a_message_in_one_language(capsys):
    with pytest.raises(TypeError, match="Chinese text"):
        say("Finish Exercise 1 first.")
    assert capsys.readouterr().out == ""
    say("Finish Exercise 1 first.", "请先完成练习 1。", lang="zh")
    assert capsys.readouterr().out == "请先完成练习 1。\n"
