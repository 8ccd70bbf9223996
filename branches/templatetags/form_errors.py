from django import template

register = template.Library()


@register.filter
def error_items(form, which="all"):
    """(field id or "", label, message) of the form's errors in the order of its fields, its own errors
    first; which="fields": the fields' only (for a page that shows the form's own errors already)."""
    items = [] if which == "fields" else [("", "", error) for error in form.non_field_errors()]
    for field in form:
        for error in field.errors:
            items.append(("", "", error) if field.is_hidden else (_anchor(field), field.label, error))
    return items


def _anchor(field):
    """The id to jump to: a field's own, or its first choice's for a list of checkboxes or radios."""
    return field.id_for_label or next((choice.id_for_label for choice in field.subwidgets), "")
