"""``{% run_result_list cl %}``: the run history's change list rows, rendered without Django's
per-cell machinery.

Django's ``{% result_list %}`` renders every cell through ``items_for_result``: a field lookup, a
``display_for_value``, a ``format_html`` and a translation or two per cell, and a ``reverse()`` and
the preserved filters per row — about 0.3 ms a row, most of the page's time when it lists 50
runs (docs/admin.md#a-long-history). The history's columns are known (the model admin's display
methods and the task's name, linked to the run), so this tag writes the same HTML directly: one
``reverse()`` a page, the admin's own display methods for the cells. Anything it does not know
(an editable list, a popup, a ``to_field``, a column that is not a display method) falls back to
Django's rows, and a test compares the two on every kind of run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    result_headers,
    result_hidden_fields,
    results,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.urls import reverse
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe

register = template.Library()

# The primary key written into the one reversed URL, replaced by each row's.
_PK_PLACEHOLDER = "__housekeeping_pk__"


@register.inclusion_tag("admin/change_list_results.html")
def run_result_list(cl: ChangeList) -> dict[str, Any]:
    """The context of Django's ``{% result_list cl %}``, with the rows written directly."""
    headers = list(result_headers(cl))
    rows = fast_rows(cl)
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(
            1 for header in headers if header["sortable"] and header["sorted"]
        ),
        "results": list(results(cl)) if rows is None else rows,
    }


def fast_rows(cl: ChangeList) -> list[ResultList] | None:
    """Every row of the page as Django's ``items_for_result`` writes it, or ``None`` when the
    change list has something this does not write (then Django's rows are used)."""
    model_admin: Any = cl.model_admin
    columns = [column for column in cl.list_display if isinstance(column, str)]
    if cl.formset is not None or cl.is_popup or cl.to_field or not columns:
        return None
    link_column = columns[1] if columns[0] == "action_checkbox" and len(columns) > 1 else columns[0]
    if list(cl.list_display_links or ()) != [link_column]:
        return None
    try:
        link_field: Any = cl.model._meta.get_field(link_column)
    except FieldDoesNotExist:  # a display method: Django's rows
        return None
    if link_field.choices or link_field.get_internal_type() not in {"CharField", "TextField"}:
        return None
    methods = []
    for column in columns:
        if column == link_column:
            continue
        method = getattr(model_admin, column, None)
        if not callable(method) or not hasattr(type(model_admin), column):
            return None
        methods.append((column, method))
    url = reverse(
        f"admin:{cl.opts.app_label}_{cl.opts.model_name}_change",
        args=(_PK_PLACEHOLDER,),
        current_app=model_admin.admin_site.name,
    )
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url)
    before, after = url.split(_PK_PLACEHOLDER, 1)
    before, after = escape(before), escape(after)
    empty = str(model_admin.get_empty_value_display())
    cells = dict(methods)
    # A row is one item: the template writes it at once rather than cell by cell.
    return [
        ResultList(
            None, [mark_safe("".join(_row(run, columns, link_column, cells, before, after, empty)))]
        )
        for run in cl.result_list
    ]


def _row(
    run: Any,
    columns: list[str],
    link_column: str,
    methods: dict[str, Any],
    before: str,
    after: str,
    empty: str,
) -> Iterator[str]:
    for column in columns:
        if column == link_column:
            value = getattr(run, column)
            # As display_for_field: a blank value shows the empty value display.
            text = empty if value is None or not str(value).strip() else escape(value)
            href = before + escape(quote(run.pk)) + after
            yield f'<th class="field-{column}"><a href="{href}">{text}</a></th>'
            continue
        value = methods[column](run)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        cell = empty if value is None else conditional_escape(str(value))
        css = "action-checkbox" if column == "action_checkbox" else f"field-{column}"
        yield f'<td class="{css}">{cell}</td>'
