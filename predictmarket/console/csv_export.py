"""CSV exports of admin lists: the rows the list shows (filters, search, scope), streamed.

``CsvExportMixin`` adds ``<list>/export.csv`` to a ModelAdmin and an "Export
CSV" button to its list. The export builds the list's own ``ChangeList`` from
the same query string, so it holds exactly the filtered, searched rows the
person may see (a moderator's guilds only) — without the page limit.

Text cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) get a leading ``'``; numbers
are written as numbers (a number is never a formula). Written by hand: the
rule is four lines, and the libraries that do it (defusedcsv) also rewrite
characters this project's data never needs rewritten.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Column = tuple[str, Callable[[Any], Any]]


def csv_cell(value: Any) -> Any:
    """One cell as written: numbers as they are, text neutralised if it could be a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose ``write`` hands the line back (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


class CsvExportMixin:
    """Mixed into a ModelAdmin that sets ``csv_columns`` (header, value of a row)."""

    csv_columns: list[Column] = []
    change_list_template = "admin/csv_export/change_list.html"

    def csv_rows(self, queryset: Any) -> Iterable[Any]:
        """The objects written, one line each (an admin may write several lines per row)."""
        return queryset.iterator(chunk_size=500)

    def get_urls(self) -> list[Any]:
        opts = self.model._meta  # type: ignore[attr-defined]
        view = self.admin_site.admin_view(self.export_csv_view)  # type: ignore[attr-defined]
        name = f"{opts.app_label}_{opts.model_name}_export_csv"
        return [path("export.csv", view, name=name), *super().get_urls()]  # type: ignore[misc]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        except IncorrectLookupParameters:
            return HttpResponse(
                "Those filters are not valid for this list.", status=400, content_type="text/plain"
            )
        rows = (
            [value(obj) for _, value in self.csv_columns]
            for obj in self.csv_rows(changelist.queryset)
        )
        header = [name for name, _ in self.csv_columns]
        response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        filename = f"{self.model._meta.model_name}-{stamp}.csv"  # type: ignore[attr-defined]
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
