import nbformat

from autograder.authoring.bilingual import check_notebook, check_tree, load_glossary
from autograder.authoring.cells import code, lesson, md, write


def test_the_whole_course_follows_the_convention_and_glossary(root):
    problems = check_tree(root)
    assert problems == [], "\n".join(problems)


def test_glossary_has_the_core_terms():
    terms = {t.en[0]: t for t in load_glossary()}
    assert terms["bias"].zh == ("偏置",) and "偏差" in terms["bias"].avoid
    assert "暗中的" in terms["implicitly"].avoid
    assert terms["vector-Jacobian product"].zh == ("向量-雅可比积",)


def _problems(tmp_path, cells) -> list[str]:
    path = tmp_path / "nb.ipynb"
    write(lesson(cells), path)
    return check_notebook(path)


def test_wrong_terms_are_caught(tmp_path):
    problems = _problems(tmp_path, [md("Weights and biases.", "权重和偏差。")])
    assert any("偏差" in p for p in problems)
    problems = _problems(tmp_path, [md("Call backward implicitly.", "暗中的调用 backward。")])
    assert any("暗中的" in p for p in problems)


def test_inconsistent_term_is_caught(tmp_path):
    problems = _problems(tmp_path, [md("Set the learning rate.", "设置步长。")])
    assert any("learning rate" in p for p in problems)


def test_missing_twin_and_untagged_cells_are_caught(tmp_path):
    cells = md("One.", "一。")
    cells.pop()
    untagged = [nbformat.v4.new_markdown_cell("no tag")]
    problems = _problems(tmp_path, [cells, code("x = 1"), untagged])
    assert any("Chinese twin" in p for p in problems)
    assert any("exactly one of" in p for p in problems)


def test_english_cell_with_chinese_is_caught(tmp_path):
    problems = _problems(tmp_path, [md("梯度 gradient", "梯度")])
    assert any("Chinese text in an English cell" in p for p in problems)


# --- the stricter rules: each one is shown catching a real mistake ------------------------


def test_inflected_english_terms_are_caught(tmp_path):
    cases = [
        ("The leaves keep their gradients.", "叶子节点保留它们的导数。", "gradient"),
        ("Tensors flow.", "数组在流动。", "tensor"),
        ("Two backward passes.", "两次回传。", "backpropagation"),
        ("Vector-Jacobian products are cheap.", "这种乘积很便宜。", "vector-Jacobian product"),
        ("Freezing the first layer.", "固定第一层。", "freeze"),
        ("The layer was frozen.", "这一层被固定了。", "freeze"),
        ("It freezes the weights.", "它固定了参数。", "weight"),
        ("Derivatives of a leaf.", "一片叶子的微商。", "derivative"),
    ]
    for en, zh, term in cases:
        problems = _problems(tmp_path, [md(en, zh)])
        assert any(f"'{term}'" in p for p in problems), (en, problems)


def test_inflections_cover_plurals_and_verb_forms():
    from autograder.authoring.bilingual import inflections

    assert {"leaf", "leaves"} <= inflections("leaf")
    assert {"pass", "passes"} <= inflections("pass")
    assert {"freezes", "freezing", "frozen"} <= inflections("freeze")
    assert {"accumulated", "accumulating"} <= inflections("accumulate")
    assert "weighted" not in inflections("weight")  # a noun: "a weighted sum" is not a weight


def test_the_right_term_in_any_inflection_passes(tmp_path):
    cells = [md("The leaves keep their gradients in tensors.", "叶子张量把梯度保存在张量里。")]
    assert _problems(tmp_path, cells) == []


def test_glossary_splits_topological_terms_and_lists_the_missing_ones():
    terms = {t.en[0]: t for t in load_glossary()}
    assert terms["topological sort"].zh == ("拓扑排序",)
    assert terms["topological order"].zh == ("拓扑序",)
    assert terms["reverse topological order"].zh == ("逆拓扑序",)
    assert "参数" in terms["argument"].zh and "实参" in terms["argument"].zh
    for en, zh in [
        ("error", "误差"),
        ("node", "节点"),
        ("root", "根节点"),
        ("element-wise", "逐元素"),
        ("in-place", "原地"),
        ("buffer", "缓冲区"),
        ("running statistic", "滑动统计量"),
        ("BatchNorm", "批量规范化"),
        ("detach", "分离"),
        ("track", "追踪"),
        ("reverse mode", "反向模式"),
        ("weight decay", "权重衰减"),
        ("evaluation mode", "评估模式"),
        ("inference mode", "推理模式"),
        ("momentum buffer", "动量缓冲区"),
        ("mean squared error", "均方误差"),
        ("hidden unit", "隐藏单元"),
        ("power rule", "幂法则"),
        ("finite difference", "有限差分"),
        ("higher-order gradient", "高阶梯度"),
        ("version counter", "版本计数器"),
        ("cumulative sum", "累积和"),
        ("reset", "重置"),
    ]:
        assert zh in terms[en].zh, en


def test_reverse_topological_order_needs_its_own_term(tmp_path):
    problems = _problems(
        tmp_path,
        [md("Visit the nodes in reverse topological order.", "按拓扑排序的逆序访问节点。")],
    )
    assert any("逆拓扑序" in p for p in problems)


def test_twin_cells_need_the_same_headings(tmp_path):
    missing = md("## 2. Data and labels\n\nOne image.", "一张图像。")
    problems = _problems(tmp_path, [missing])
    assert any("headings differ" in p for p in problems)
    renumbered = md("## 2. Data and labels", "## 3. 数据与标签")
    assert any("headings differ" in p for p in _problems(tmp_path, [renumbered]))
    level = md("### 2. Data", "## 2. 数据")
    assert any("headings differ" in p for p in _problems(tmp_path, [level]))
    assert _problems(tmp_path, [md("## 2. Data and labels", "## 2. 数据与标签")]) == []


def test_shared_cells_hold_no_words(tmp_path):
    from autograder.authoring.cells import maths

    prose = maths(r"$$v \leftarrow \mu v + g \qquad (\text{first step: } v = g)$$")
    assert any("lang:any cell holds words" in p for p in _problems(tmp_path, [prose]))
    words = maths("$$x^2$$ (the square)")
    assert any("lang:any cell holds words" in p for p in _problems(tmp_path, [words]))
    chinese = maths(r"$$\text{损失} = x^2$$")
    assert any("lang:any cell holds words" in p for p in _problems(tmp_path, [chinese]))
    symbol = maths(r"$$p \leftarrow p - \text{lr} \cdot g \qquad \text{error} = \sum_i y_i$$")
    assert _problems(tmp_path, [symbol]) == []


def _two_lessons(tmp_path, link_en: str, link_zh: str) -> list[str]:
    target = tmp_path / "04_chain_rule" / "04_chain_rule.ipynb"
    target.parent.mkdir(exist_ok=True)
    write(lesson([md("# Lesson 4 · The chain rule", "# 第 4 课 · 链式法则")]), target)
    here = tmp_path / "05_next" / "05_next.ipynb"
    here.parent.mkdir(exist_ok=True)
    write(lesson([md(link_en, link_zh)]), here)
    return check_notebook(here)


def test_cross_links_use_the_title_of_the_lesson(tmp_path):
    link = "../04_chain_rule/04_chain_rule.ipynb"
    good = _two_lessons(
        tmp_path, f"[Lesson 4 · The chain rule]({link})", f"[第 4 课 · 链式法则]({link})"
    )
    assert good == []


def test_cross_links_with_a_wrong_title_are_caught(tmp_path):
    link = "../04_chain_rule/04_chain_rule.ipynb"
    problems = _two_lessons(
        tmp_path,
        f"[Lesson 4 · Chain rules]({link})",
        f"[第 4 课 · 链式法则与中间张量的梯度]({link})",
    )
    assert sum("is not the title" in p for p in problems) == 2, problems


def test_short_cross_links_name_the_right_lesson(tmp_path):
    link = "../04_chain_rule/04_chain_rule.ipynb"
    assert (
        _two_lessons(tmp_path, f"Next, [lesson 4]({link}).", f"下一课：[第 4 课]({link})。") == []
    )
    problems = _two_lessons(tmp_path, f"Next, [lesson 5]({link}).", f"下一课：[第 5 课]({link})。")
    assert sum("is not the title" in p for p in problems) == 2


def test_code_spans_that_look_like_expressions_must_parse(tmp_path):
    from autograder.authoring.bilingual import bad_code_spans

    assert bad_code_spans("The rest: `−x`, `x − y` and `y = x²`.") == ["−x", "x − y", "y = x²"]
    assert bad_code_spans("`+`, `**`, `gradient=`, `x - y`, `with torch.no_grad():`, `.grad`") == []
    assert bad_code_spans("`COURSE_LANG=zh make lab`, `make lab`") == []  # shell commands
    problems = _problems(tmp_path, [md("Write `x − y`.", "写 `x − y`。")])
    assert sum("is not Python" in p for p in problems) == 2


def test_casual_chinese_is_caught(tmp_path):
    problems = _problems(tmp_path, [md("Everyone trips on this once.", "每个人都会被它坑一次。")])
    assert any("too casual" in p for p in problems)


def test_a_formula_symbol_is_not_taken_for_the_term(tmp_path):
    from autograder.authoring.cells import maths

    cells = [
        maths(r"$$\text{error} = \sum_i \hat{y}_i$$"),
        md("Compute ∂error/∂a.", "计算 ∂error/∂a。"),
    ]
    assert _problems(tmp_path, cells) == []
    cells.append(md("The error is large.", "它很大。"))
    assert any("'error'" in p for p in _problems(tmp_path, cells))


def test_a_line_break_inside_a_chinese_paragraph_is_caught(tmp_path):
    from autograder.authoring.bilingual import chinese_line_breaks

    en = "Data flows through one function after another.\nIn a formula, functions nest."
    wrapped = md(en, "数据依次经过一个又一个函数的输入。\n写成公式，就是函数套着函数。")
    problems = _problems(tmp_path, [wrapped])
    assert sum("line break inside a Chinese paragraph" in p for p in problems) == 1, problems
    assert "输入。⏎写成" in problems[0]
    # beside a code span or a list item's continuation too
    assert chinese_line_breaks("另有 4 个样本 `x`\n以及目标值 `y`。") == [
        "另有 4 个样本 `x`⏎以及目标值 `y`。"
    ]
    assert (
        len(chinese_line_breaks("- 在真实的网络上做一次前向传播，\n  再调用 `loss.backward()`；"))
        == 1
    )
    one_line = md(en, "数据依次经过一个又一个函数的输入。写成公式，就是函数套着函数。")
    assert _problems(tmp_path, [one_line]) == []


def test_line_breaks_that_end_a_block_or_join_english_words_are_fine():
    from autograder.authoring.bilingual import chinese_line_breaks

    blocks = "\n".join(
        [
            "## 2. 数据与标签",
            "学完本课，你将能够：",
            "- 把神经网络看作一组嵌套函数；",
            "1. 冻结全部参数；",
            "| 名称 | 作用 |",
            "|---|---|",
            "| A | 求和 |",
            "",
            "```python",
            "梯度 = 1",
            "损失 = 2",
            "```",
            "$$\\frac{dy}{dx} = \\underbrace{\\sin x}_{\\text{经由第一个因子}}",
            "\\;+\\; \\cos x$$",
            "下一段。",
        ]
    )
    assert chinese_line_breaks(blocks) == []
    assert chinese_line_breaks("优化器拒绝（“can't optimize a\nnon-leaf Tensor”）。") == []


def test_an_answers_comments_and_docstrings_need_their_chinese_line():
    from autograder.authoring.bilingual import answer_comment_problems

    good = (
        'def f(x):\n    """The square of x.\n    x 的平方。"""\n'
        "    # YOUR CODE HERE (在此处写你的代码)\n    raise NotImplementedError()\n"
    )
    assert answer_comment_problems(good) == []
    english = 'def f(x):\n    """The square of x, element by element."""\n    ### BEGIN SOLUTION\n'
    english += "    return x**2  # only in the solution, which the release removes\n"
    english += "    ### END SOLUTION\n"
    [problem] = answer_comment_problems(english)
    assert "no Chinese line" in problem and "element by element" in problem
    trailing = "x = f(1)  # the value we want to check\n"
    assert answer_comment_problems(trailing)
    assert answer_comment_problems("x = f(1)  # the value we want to check · 要检查的值\n") == []
    avoided = 'def f(x):\n    """The bias of x.\n    x 的偏差。"""\n'
    assert any("偏差" in p for p in answer_comment_problems(avoided))


def test_a_chinese_aside_stands_alone_only_when_tagged(tmp_path):
    """A note on Chinese word choices has no English twin, and says so with ``aside:zh``."""
    alone = [
        nbformat.v4.new_markdown_cell(
            "译文里把它写成了 `折线函数`。", metadata={"tags": ["lang:zh"]}
        )
    ]
    problems = _problems(tmp_path, [md("One.", "一。"), code("x = 1"), alone])
    assert any("must follow its English twin" in p for p in problems)
    alone[0].metadata["tags"].append("aside:zh")
    assert _problems(tmp_path, [md("One.", "一。"), code("x = 1"), alone]) == []


def test_direction_words_and_times_off_are_caught(tmp_path):
    problems = _problems(tmp_path, [md("The gradient flows back.", "梯度往下传到上一层。")])
    assert any("往下传" in p for p in problems) and any("上一层" in p for p in problems)
    from autograder.authoring.bilingual import message_problems

    source = 'Msg("Your gradient is {k} times too large.", "你的梯度大了 {k} 倍。")\n'
    assert any("大了 {k} 倍" in p for p in message_problems(source))
    fixed = 'Msg("Your gradient is {k} times too large.", "你的梯度是正确值的 {k} 倍。")\n'
    assert message_problems(fixed) == []


def test_chinese_inside_a_code_span_is_caught(tmp_path):
    problems = _problems(tmp_path, [md("A pair `(node, index)`.", "一对 `(节点, 下标)`。")])
    assert any("(节点, 下标)" in p for p in problems)
    assert (
        _problems(tmp_path, [md("A pair `(node, index)`.", "一对 `(node, index)`，即节点和下标。")])
        == []
    )


def test_register_slips_are_caught(tmp_path):
    problems = _problems(tmp_path, [md("It silences the check.", "它让检查闭嘴。")])
    assert any("闭嘴" in p for p in problems)
