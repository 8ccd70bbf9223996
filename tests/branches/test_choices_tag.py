from django.template import Context, Template


def render(choices, selected):
    template = Template("{% load choices %}<select>{% options choices selected %}</select>")
    return template.render(Context({"choices": choices, "selected": selected}))


def test_options_mark_the_chosen_value_and_escape_labels():
    html = render([("", "全部"), (7, "甲村党支部"), (12, "<b>乙</b>&村")], 12)
    assert html == (
        '<select><option value="">全部</option><option value="7">甲村党支部</option>'
        '<option value="12" selected>&lt;b&gt;乙&lt;/b&gt;&amp;村</option></select>'
    )


def test_with_nothing_chosen_the_empty_value_is_the_one_marked():
    assert 'value="" selected' in render([("", "全部"), (7, "甲")], None)
    assert "selected" not in render([(7, "甲"), (8, "乙")], "")
